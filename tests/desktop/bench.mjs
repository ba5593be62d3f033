// The real app (Tauri + WebKitGTK under Xvfb, driven through tauri-driver)
// with a large library: cold start to the first gallery paint, the memory
// of the app and its web processes at idle and after flinging through the
// whole gallery, and the gallery's frame times while scrolling, the
// scenario ui/bench/gallery.mjs runs in headless Chromium. Run by
// tests/desktop/run.sh with EASEL_DESKTOP_BENCH=1 (scripts/bench.sh does),
// which provides the display, the bus, the driver and these variables:
//   EASEL_APP_BIN, EASEL_DRIVER_URL, EASEL_DATA_DIR, EASEL_LIBRARY_DIR,
//   EASEL_FILL_BIN (the fill_library example), EASEL_BENCH_APP_JOBS.
// Prints `BENCH|…` lines; nothing here asserts: it measures.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Builder, By, Capabilities, until } from 'selenium-webdriver';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/desktop/run.sh with EASEL_DESKTOP_BENCH=1`);
  return value;
};
const APP = need('EASEL_APP_BIN');
const DRIVER = need('EASEL_DRIVER_URL');
const JOBS = Number(process.env.EASEL_BENCH_APP_JOBS ?? 100_000);
// Distinct thumbnails the library's cards show (1: every card the same image).
const THUMBS = Number(process.env.EASEL_BENCH_APP_THUMBS ?? 2_000);
const FRAME = 1000 / 60;
const MB = 1024 * 1024;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const row = (...cells) => console.log(`BENCH|${cells.join('|')}`);

/** The app's process and every process it started (WebKit's web and network processes). */
function appTree() {
  const parent = new Map();
  const roots = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readlinkSync(`/proc/${entry}/exe`) === APP) roots.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  const tree = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** Resident memory of the app's processes together: RSS summed, and PSS (shared pages split between them). */
function memory() {
  let rss = 0;
  let pss = 0;
  const names = [];
  for (const pid of appTree()) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const own = Number(rollup.match(/^Pss:\s+(\d+)/m)?.[1] ?? 0) * 1024;
      rss += Number(rollup.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0) * 1024;
      pss += own;
      names.push(`${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()} ${(own / MB).toFixed(0)} MB`);
    } catch {
      // exited meanwhile
    }
  }
  return { rss, pss, names };
}

console.log(`# filling a library of ${JOBS.toLocaleString('en')} jobs`);
console.log(
  execFileSync(need('EASEL_FILL_BIN'), [need('EASEL_DATA_DIR'), need('EASEL_LIBRARY_DIR'), String(JOBS), String(THUMBS)], {
    encoding: 'utf8',
  }).trim(),
);

const caps = new Capabilities();
caps.setBrowserName('wry');
caps.set('tauri:options', { application: APP });
const t0 = performance.now();
const driver = await new Builder().usingServer(DRIVER).withCapabilities(caps).build();
try {
  // First paint of the gallery: a card on screen whose thumbnail decoded.
  await driver.wait(
    () =>
      driver.executeScript(() => {
        const img = document.querySelector('[data-testid="job-card"] img');
        return Boolean(img && img.complete && img.naturalWidth > 0);
      }),
    120_000,
    'the gallery never showed a thumbnail',
  ).catch(async (e) => {
    const seen = await driver.executeScript(() => {
      const card = document.querySelector('[data-testid="job-card"]');
      return `${document.querySelectorAll('[data-testid="job-card"]').length} cards; first: ${card?.outerHTML.slice(0, 600)}`;
    });
    throw new Error(`${e.message}: ${seen}`);
  });
  const start = performance.now() - t0;
  // WebDriver's own part: the session and the page's load, timed in the page.
  const inPage = await driver.executeScript(() => performance.now());

  await sleep(3000);
  const idle = memory();
  console.log(`# processes at idle (PSS): ${idle.names.join(', ')}`);

  const gallery = await driver.findElement(By.css('[data-testid="gallery"]'));
  const { intervals, work } = await driver.executeAsyncScript((el, done) => {
    const intervals = [];
    const work = [];
    let last = null;
    let n = 0;
    const frame = (now) => {
      if (last !== null) intervals.push(now - last);
      last = now;
      const t = performance.now();
      el.scrollTop += 300;
      void el.scrollHeight;
      work.push(performance.now() - t);
      n += 1;
      if (n < 240) requestAnimationFrame(frame);
      else done({ intervals: intervals.sort((a, b) => a - b), work: work.sort((a, b) => a - b) });
    };
    requestAnimationFrame(frame);
  }, gallery);

  // Fling to the end again and again until the whole library is loaded
  // (each fling pages more in), timing each to its next frame.
  const flings = [];
  const flingStart = performance.now();
  let cards = 0;
  let height = 0;
  let still = 0;
  // Done when three flings in a row, half a second apart, paged nothing in.
  while (still < 3 && performance.now() - flingStart < 600_000) {
    const r = await driver.executeAsyncScript(async (el, done) => {
      const t = performance.now();
      el.scrollTop = el.scrollHeight;
      await new Promise((res) => requestAnimationFrame(() => res()));
      done({ ms: performance.now() - t, height: el.scrollHeight });
    }, gallery);
    flings.push(r.ms);
    still = r.height === height ? still + 1 : 0;
    height = r.height;
    await sleep(still > 0 ? 500 : 30);
  }
  flings.sort((a, b) => a - b);
  cards = await driver.executeScript(() => document.querySelectorAll('[data-testid="job-card"]').length);
  const dom = await driver.executeScript(() => document.getElementsByTagName('*').length);
  const atEnd = await driver.executeScript(
    () => document.querySelector('[data-testid="job-card"]:last-of-type')?.getAttribute('aria-label') ?? '',
  );
  await sleep(3000);
  const flung = memory();
  console.log(`# processes after the fling: ${flung.names.join(', ')}`);
  // What the web process keeps once the old page and its script heap are
  // gone (caches, and what its allocators hold on to after the peak).
  await driver.navigate().refresh();
  await driver.wait(
    () => driver.executeScript(() => document.querySelectorAll('[data-testid="job-card"]').length > 0),
    60_000,
  );
  await sleep(3000);
  const reloaded = memory();
  console.log(`# processes after a reload: ${reloaded.names.join(', ')}`);

  const label = JOBS.toLocaleString('en');
  console.log(
    `# ${label} jobs: start ${start.toFixed(0)} ms (${inPage.toFixed(0)} ms of it in the page); ${flings.length} flings; ${dom} DOM nodes, ${cards} cards at the end (last: ${atEnd.slice(0, 40)})`,
  );
  console.log(
    `# memory at idle: RSS ${(idle.rss / MB).toFixed(0)} MB, PSS ${(idle.pss / MB).toFixed(0)} MB; after the fling: RSS ${(flung.rss / MB).toFixed(0)} MB, PSS ${(flung.pss / MB).toFixed(0)} MB`,
  );
  row(`app cold start to first gallery paint, ${label} jobs (${process.env.EASEL_DESKTOP_PROFILE ?? 'debug'} build, WebDriver launch included)`, `${start.toFixed(0)} ms`, '-', '-', '< 1 s', start < 1000);
  row(`app + web processes memory at idle, ${label} jobs (PSS; RSS ${(idle.rss / MB).toFixed(0)} MB)`, `${(idle.pss / MB).toFixed(0)} MB`, '-', '-', '< 200 MB', idle.pss < 200 * MB);
  row(`app + web processes memory after flinging through ${label} jobs (PSS; RSS ${(flung.rss / MB).toFixed(0)} MB)`, `${(flung.pss / MB).toFixed(0)} MB`, '-', '-', '< 300 MB', flung.pss < 300 * MB);
  const p95 = pct(intervals, 0.95);
  row(`gallery ${label} jobs, scroll 300 px/frame: frame interval p95 (WebKitGTK, Xvfb)`, `${p95.toFixed(1)} ms`, `${FRAME.toFixed(1)} ms (60 fps)`, (p95 / FRAME).toFixed(2), 'p95 ≤ 16.7 ms (+jitter)', p95 <= 17.5);
  const w95 = pct(work, 0.95);
  row(`gallery ${label} jobs, scroll: main-thread work per frame p95 (WebKitGTK)`, `${w95.toFixed(2)} ms`, `${FRAME.toFixed(1)} ms (frame budget)`, (w95 / FRAME).toFixed(2), '< 1 (fits a frame)', w95 < FRAME);
  const f95 = pct(flings, 0.95);
  row(`gallery ${label} jobs, fling to the end: scroll to next frame p95 (WebKitGTK)`, `${f95.toFixed(1)} ms`, `${(2 * FRAME).toFixed(1)} ms (within 2 frames)`, (f95 / (2 * FRAME)).toFixed(2), '≤ 1', f95 <= 2 * FRAME);
  row(`gallery ${label} jobs in the app: DOM nodes / cards after the fling`, `${dom} / ${cards}`, '-', '-', 'bounded', cards <= 60);
} finally {
  await driver.quit().catch(() => {});
}
