// Tests of the real desktop app: the release UI in the real Tauri shell with
// the real engine and SQLite file, on the offline provider, under Xvfb,
// driven through tauri-driver + WebKitWebDriver. Run by tests/desktop/run.sh,
// which provides the X display, the session bus, the driver and these
// variables:
//   EASEL_APP_BIN, EASEL_CLI_BIN   the built app and CLI
//   EASEL_DRIVER_URL               tauri-driver's WebDriver endpoint
//   EASEL_DATA_DIR, EASEL_LIBRARY_DIR, EASEL_SHOTS_DIR
//   EASEL_NOTIFY_LOG               dbus-monitor's record of Notify calls
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, test } from 'node:test';
import { Builder, By, Capabilities, Key, until } from 'selenium-webdriver';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set: run tests/desktop/run.sh`);
  return value;
};
const APP = env('EASEL_APP_BIN');
const CLI = env('EASEL_CLI_BIN');
const DRIVER = env('EASEL_DRIVER_URL');
const LIBRARY = env('EASEL_LIBRARY_DIR');
const SHOTS = env('EASEL_SHOTS_DIR');
const NOTIFY_LOG = env('EASEL_NOTIFY_LOG');
const T = { timeout: 180_000 };
const WAIT = 60_000;

mkdirSync(SHOTS, { recursive: true });

let driver = null;

// A failed test must not leave its app (and WebDriver session) behind.
afterEach(async () => {
  await quit();
});

/** Start the app (a new WebDriver session launches it) and wait for the engine. */
async function launch() {
  await launchWindow();
  await waitText('[data-testid="engine-status"]', 'Engine ready');
  await installStatusRecorder();
}

/** Start the app without waiting for its engine. */
async function launchWindow() {
  const caps = new Capabilities();
  caps.setBrowserName('wry');
  caps.set('tauri:options', { application: APP });
  driver = await new Builder().usingServer(DRIVER).withCapabilities(caps).build();
}

/** End the WebDriver session; the app may already be gone. */
async function quit() {
  if (!driver) return;
  const d = driver;
  driver = null;
  await Promise.race([d.quit().catch(() => {}), sleep(10_000)]);
  // The app keeps running in the tray when its window closes: end it.
  killApp('SIGTERM');
  await waitFor(() => appPids().length === 0, 'the app to exit', 15_000).catch(async () => {
    killApp('SIGKILL');
    // The next test must not start beside a dying app (it counts app processes).
    await waitFor(() => appPids().length === 0, 'the killed app to go', 10_000).catch(() => {});
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function waitText(css, text) {
  const el = await driver.wait(until.elementLocated(By.css(css)), WAIT, `no ${css}`);
  await driver.wait(until.elementTextContains(el, text), WAIT, `${css} never said "${text}"`);
  return el;
}

/** A toast (among several) that says `text`. */
function waitToast(text) {
  return driver.wait(
    until.elementLocated(By.xpath(`//*[@data-testid="toast"][contains(., "${text}")]`)),
    WAIT,
    `no toast said "${text}"`,
  );
}

/** Processes running the app binary (by /proc/<pid>/exe). */
function appPids() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/exe`) === APP) pids.push(Number(entry));
    } catch {
      // not ours, or already gone
    }
  }
  return pids;
}

/** The app processes still running, with their state, for a failure message. */
function describeApps() {
  return appPids()
    .map((pid) => {
      try {
        const state = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^State:\s*(.*)$/m)?.[1];
        return `${pid} (${state})`;
      } catch {
        return `${pid} (gone)`;
      }
    })
    .join(', ');
}

function killApp(signal) {
  for (const pid of appPids()) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Record every status each job card shows, in order, from now on: a
 * MutationObserver sees each render, so short-lived states are not missed
 * the way polling would miss them.
 */
async function installStatusRecorder() {
  await driver.executeScript(() => {
    const seen = {};
    window.__easelSeen = seen;
    const scan = () => {
      for (const card of document.querySelectorAll('[data-testid="job-card"]')) {
        const list = (seen[card.dataset.id] ??= []);
        const status = card.dataset.status;
        if (list[list.length - 1] !== status) list.push(status);
      }
    };
    new MutationObserver(scan).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-status'],
    });
    scan();
  });
}

const seen = () => driver.executeScript(() => window.__easelSeen);

/** The job's card; `status` narrows to a card in that state. */
const card = (prompt, status) =>
  By.css(`[data-testid="job-card"][aria-label="${prompt}"]${status ? `[data-status="${status}"]` : ''}`);

async function generate(prompt) {
  const box = await driver.findElement(By.css('#prompt'));
  await box.clear();
  await box.sendKeys(prompt);
  await driver.findElement(By.css('button.generate')).click();
  const el = await driver.wait(until.elementLocated(card(prompt)), WAIT, `no card for ${prompt}`);
  return el.getAttribute('data-id');
}

async function waitStatus(prompt, status) {
  return driver.wait(until.elementLocated(card(prompt, status)), WAIT, `${prompt} never became ${status}`);
}

/** Wait until the card's thumbnail has really loaded through the asset protocol. */
async function waitThumbnail(prompt) {
  const img = await driver.wait(
    until.elementLocated(By.css(`[data-testid="job-card"][aria-label="${prompt}"] img`)),
    WAIT,
    `${prompt} has no thumbnail`,
  );
  await driver.wait(
    () => driver.executeScript((i) => i.complete && i.naturalWidth > 0, img),
    WAIT,
    `${prompt}'s thumbnail never loaded`,
  );
  return driver.executeScript((i) => [i.naturalWidth, i.naturalHeight], img);
}

async function shot(name) {
  writeFileSync(join(SHOTS, `${name}.png`), await driver.takeScreenshot(), 'base64');
}

/** Send the window a close request, as its title bar's close button would. */
function closeWindow() {
  // Debian's python3, which python3-xlib is installed for (not a pyenv one).
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'close_window.py'), 'Easel']);
}

function windowVisible() {
  try {
    execFileSync('xdotool', ['search', '--onlyvisible', '--name', '^Easel$'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Notify calls seen on the session bus (run.sh records them with dbus-monitor). */
function notifications() {
  const log = readFileSync(NOTIFY_LOG, 'utf8');
  return log.split(/^method call/m).filter((call) => call.includes('member=Notify'));
}

function cli(...args) {
  return JSON.parse(execFileSync(CLI, args, { encoding: 'utf8' }));
}

function libraryImages() {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else out.push(join(dir, e.name));
    }
  };
  if (existsSync(LIBRARY)) walk(LIBRARY);
  return out;
}

/** In order, without skipping back; `expected` must all appear, in this order. */
function assertSeenInOrder(statuses, expected, label) {
  let at = 0;
  for (const s of statuses) if (s === expected[at]) at += 1;
  assert.equal(at, expected.length, `${label}: saw ${statuses.join(' → ')}, expected ${expected.join(' → ')}`);
}

test('generate on the offline provider: cards go queued → processing → completed with a thumbnail', T, async () => {
  await launch();
  await shot('01-empty');

  // Offline concurrency is 1 (run.sh's config.toml), so the second job is
  // shown waiting in the queue while the first one runs.
  const first = await generate('a quiet harbor at dawn');
  const second = await generate('a lighthouse in fog');
  const queued = await waitStatus('a lighthouse in fog', 'queued');
  const position = await queued.findElement(By.css('[data-testid="queue-position"]')).getText();
  assert.match(position, /1/, 'the queued card shows its place in the queue');
  await waitStatus('a quiet harbor at dawn', 'processing');
  await shot('02-running');

  for (const prompt of ['a quiet harbor at dawn', 'a lighthouse in fog']) {
    await waitStatus(prompt, 'completed');
    const [w, h] = await waitThumbnail(prompt);
    assert.ok(w > 0 && h > 0, `${prompt}: thumbnail ${w}x${h}`);
  }
  await shot('03-completed');

  const statuses = await seen();
  for (const id of [first, second]) {
    assertSeenInOrder(statuses[id], ['queued', 'processing', 'completed'], id);
  }
  // The engine agrees, and each job saved one image into the library.
  for (const id of [first, second]) {
    const detail = cli('show', id, '--json');
    assert.equal(detail.job.status, 'completed');
    assert.equal(detail.assets.length, 1);
    assert.ok(existsSync(detail.assets[0].path), `${detail.assets[0].path} exists`);
  }
  assert.equal(libraryImages().filter((f) => f.endsWith('.png')).length, 2);

  // The window may load the stored images and nothing else: an <img>
  // through the app's easel-image: scheme, as the gallery loads them, of the
  // stored image and of copies of it that a plain folder scope would let
  // through (at the library root, in a sub-folder of the dated folder,
  // hidden, and a symlink to the root copy beside the stored image).
  const image = cli('show', first, '--json').assets[0].path;
  const day = dirname(image);
  const copy = join(LIBRARY, 'copied.png');
  const nested = join(day, 'sub', 'nested.png');
  const hidden = join(day, '.hidden.png');
  const link = join(day, 'link.png');
  writeFileSync(copy, readFileSync(image));
  mkdirSync(dirname(nested));
  writeFileSync(nested, readFileSync(image));
  writeFileSync(hidden, readFileSync(image));
  symlinkSync(copy, link);
  try {
    const loads = await driver.executeAsyncScript((paths, done) => {
      const load = (p) =>
        new Promise((resolve) => {
          const img = new Image();
          img.onload = () => resolve(true);
          img.onerror = () => resolve(false);
          img.src = window.__TAURI_INTERNALS__.convertFileSrc(p, 'easel-image');
        });
      Promise.all(paths.map(load)).then(done);
    }, [image, copy, nested, hidden, link]);
    assert.deepEqual(
      loads,
      [true, false, false, false, false],
      'the stored image loads; copies at the root, in a sub-folder, hidden or linked do not',
    );
  } finally {
    for (const f of [copy, nested, hidden, link]) rmSync(f, { force: true });
    rmSync(dirname(nested), { recursive: true, force: true });
  }
});

test('killed mid-job, the reopened app shows the recovery banner and completes the job once', T, async () => {
  await launch();
  const prompt = 'a red kite over the dunes';
  const id = await generate(prompt);
  await waitStatus(prompt, 'processing');
  const before = libraryImages().length;

  // A crash, not a polite quit: nothing gets a chance to clean up.
  killApp('SIGKILL');
  await waitFor(() => appPids().length === 0, 'the killed app to be gone');
  await Promise.race([driver.quit().catch(() => {}), sleep(10_000)]);
  driver = null;
  assert.equal(cli('show', id, '--json').job.status, 'processing', 'the job was mid-flight at the crash');

  await launch();
  const banner = await waitText('[data-testid="recovery-banner"]', 'Resumed 1 unfinished job');
  const bannerText = await driver.executeScript((b) => b.textContent, banner);
  assert.match(bannerText, new RegExp(prompt), 'the banner names the resumed job');
  await shot('04-recovery-banner');
  await waitStatus(prompt, 'completed');
  await waitThumbnail(prompt);
  await waitText('[data-testid="recovery-banner"]', '1 done');
  await shot('05-recovered');

  const detail = cli('show', id, '--json');
  assert.equal(detail.job.status, 'completed');
  assert.equal(detail.assets.length, 1, 'one image, not two');
  assert.equal(libraryImages().length, before + 1, 'exactly one new file in the library');
  // Re-attached to the same provider job: one attempt, never a second submit.
  assert.equal(detail.attempts.length, 1, 'one attempt');
});

test('a settings file the engine cannot use: the window says why instead of failing silently', T, async () => {
  const config = join(env('EASEL_DATA_DIR'), 'config.toml');
  const before = existsSync(config) ? readFileSync(config, 'utf8') : null;
  writeFileSync(config, 'max_attempts = "three"\n');
  try {
    await launchWindow();
    const error = await waitText('[data-testid="startup-error"]', 'Easel cannot start');
    // textContent, as the other tests read text (getText stalls in WebKitWebDriver here).
    const text = await driver.executeScript((e) => e.textContent, error);
    assert.match(text, /config\.toml, line 1/);
    assert.match(text, /max_attempts/);
    // No screenshot here: WebKitWebDriver's screenshot stalls on this static
    // page (the mocked-shell suite takes one of the same screen).
  } finally {
    if (before === null) unlinkSync(config);
    else writeFileSync(config, before);
  }
});

test('bad input in the real window: empty prompt, missing library folder', T, async () => {
  await launch();
  const box = await driver.findElement(By.css('#prompt'));
  await box.clear();
  const jobs = cli('list', '--json').length;
  await driver.findElement(By.css('button.generate')).click();
  const message = await driver.wait(until.elementLocated(By.css('[role="alert"]')), WAIT);
  assert.match(await message.getText(), /prompt/i);
  assert.equal(cli('list', '--json').length, jobs, 'no job was created');

  // The library folder disappears (an unplugged drive): Generate says so and
  // creates nothing; with the folder back, it works again.
  const moved = `${LIBRARY}.away`;
  renameSync(LIBRARY, moved);
  try {
    await box.sendKeys('a field of poppies', Key.CONTROL, Key.ENTER);
    const err = await waitText('[data-testid="create-error"]', 'library');
    await shot('06-missing-library');
    assert.match(await err.getText(), new RegExp(LIBRARY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.equal(cli('list', '--json').length, jobs, 'no job was created');
  } finally {
    renameSync(moved, LIBRARY);
  }
  await driver.findElement(By.css('button.generate')).click();
  await waitStatus('a field of poppies', 'completed');
});

/**
 * Drop a file made in the page on the reference zone. `kind` picks the
 * bytes: "text", "zeros" (21 MB) or "red-png" (drawn on a canvas). The page's
 * CSP forbids eval, so the makers live in this one script.
 */
async function dropFile(name, type, kind) {
  await driver.executeAsyncScript(
    async (name, type, kind, done) => {
      const make = {
        text: async () => new TextEncoder().encode('just some notes'),
        zeros: async () => new Uint8Array(21 * 1024 * 1024),
        'red-png': async () => {
          const canvas = document.createElement('canvas');
          canvas.width = 64;
          canvas.height = 48;
          const ctx = canvas.getContext('2d');
          ctx.fillStyle = '#dc1414';
          ctx.fillRect(0, 0, 64, 48);
          const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
          return new Uint8Array(await blob.arrayBuffer());
        },
      }[kind];
      const dt = new DataTransfer();
      dt.items.add(new File([await make()], name, { type }));
      const zone = document.querySelector('[data-testid="reference-drop"]');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      done();
    },
    name,
    type,
    kind,
  );
}

test('reference images in the real app: bad files are refused with a reason; a remix uses a good one', T, async () => {
  await launch();
  await driver.executeScript(() => {
    const model = document.querySelector('#model');
    model.value = 'easel-remix-1';
    model.dispatchEvent(new Event('change', { bubbles: true }));
  });
  await driver.wait(until.elementLocated(By.css('[data-testid="reference-drop"]')), WAIT);

  await dropFile('notes.txt', 'text/plain', 'text');
  await waitText('[data-testid="reference-error"]', 'notes.txt: the file is not an image Easel can use');
  await dropFile('huge.png', 'image/png', 'zeros');
  await waitText('[data-testid="reference-error"]', 'huge.png is 21 MB; a reference image can be at most 20 MB');
  await shot('08-reference-errors');
  assert.equal((await driver.findElements(By.css('[data-testid="reference"]'))).length, 0);

  // A real PNG, drawn in the page: solid red.
  await dropFile('red.png', 'image/png', 'red-png');
  await driver.wait(until.elementLocated(By.css('[data-testid="reference"]')), WAIT);
  const id = await generate('the harbor, repainted in red');
  await waitStatus('the harbor, repainted in red', 'completed');
  await waitThumbnail('the harbor, repainted in red');
  await shot('09-remix');
  const detail = cli('show', id, '--json');
  assert.equal(detail.job.model, 'easel-remix-1');
  assert.equal(detail.job.reference_ids.length, 1);
  assert.equal(detail.assets.length, 1);
});

test('closing the window with a job running keeps it running in the tray, notifies when done; a second launch brings the window back', T, async () => {
  await launch();
  const prompt = 'a night market in the rain';
  const id = await generate(prompt);
  await waitStatus(prompt, 'processing');

  closeWindow();
  await waitFor(() => !windowVisible(), 'the window to hide');
  assert.equal(appPids().length, 1, 'the app keeps running');
  await waitFor(() => cli('show', id, '--json').job.status === 'completed', 'the job to complete with the window closed');
  // The window was out of view, so the desktop was told.
  await waitFor(
    () => notifications().some((n) => n.includes('Image ready') && n.includes(prompt)),
    'a notification that the image is ready',
  );

  // A second launch exits at once and brings the first one's window back.
  const second = spawn(APP, [], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  second.stderr.on('data', (chunk) => (stderr += chunk));
  const [code, signal] = await new Promise((resolve) => second.on('close', (c, s) => resolve([c, s])));
  assert.equal(code, 0, `the second instance exits cleanly (signal ${signal}); its stderr:\n${stderr}`);
  await waitFor(() => windowVisible(), 'the window to come back');
  assert.equal(appPids().length, 1, 'still one app process');
  await waitStatus(prompt, 'completed');
  await shot('07-back-from-tray');
});

test('the window remembers its size; closing it with nothing running quits', T, async () => {
  await launch();
  execFileSync('xdotool', ['search', '--name', '^Easel$', 'windowsize', '%@', '900', '640']);
  await waitFor(async () => (await driver.executeScript(() => window.innerWidth)) === 900, 'the resize');
  closeWindow();
  await waitFor(() => appPids().length === 0, 'the app to quit').catch((e) => {
    throw new Error(`${e.message}; still running: ${describeApps()}; window visible: ${windowVisible()}`);
  });
  await Promise.race([driver.quit().catch(() => {}), sleep(10_000)]);
  driver = null;

  await launch();
  const size = await driver.executeScript(() => [window.innerWidth, window.innerHeight]);
  assert.deepEqual(size, [900, 640], 'the window reopens at the size it was closed at');
});

test('moving the library folder keeps earlier images in the gallery and the viewer, after a restart too', T, async () => {
  await launch();
  await generate('before the move');
  await waitStatus('before the move', 'completed');

  const moved = `${LIBRARY}-moved`;
  mkdirSync(moved, { recursive: true });
  await driver.findElement(By.css('[data-testid="open-settings"]')).click();
  const field = await driver.wait(until.elementLocated(By.css('#library-dir')), WAIT);
  await driver.wait(until.elementIsVisible(field), WAIT);
  // The real engine reports its providers' key state: OpenAI needs a key
  // and has none here (no key stored, no OPENAI_API_KEY; this bus has no
  // Secret Service, so the keychain may also say it cannot be asked).
  const openaiKey = await driver.wait(until.elementLocated(By.css('[data-testid="key-state-openai"]')), WAIT);
  const keyText = await driver.executeScript((e) => e.textContent, openaiKey);
  assert.match(keyText, /No key yet|Keychain unavailable/, keyText);
  await field.clear();
  await field.sendKeys(moved);
  await driver.findElement(By.xpath('//button[normalize-space()="Save"]')).click();
  // The dialog also hosts the toasts (role=status too): name the message.
  await waitText('[data-testid="settings-saved"]', 'Saved');
  await driver.findElement(By.css('[aria-label="Close settings"]')).click();

  const after = await generate('after the move');
  await waitStatus('after the move', 'completed');
  assert.ok(cli('show', after, '--json').assets[0].path.startsWith(moved), 'new images go to the new folder');

  // A new run (the shell allows image folders at start) still shows both.
  await quit();
  await launch();
  for (const prompt of ['before the move', 'after the move']) {
    await waitThumbnail(prompt);
    await driver.findElement(By.css(`[data-testid="job-card"][aria-label="${prompt}"] button.open`)).click();
    const img = await driver.wait(until.elementLocated(By.css('[data-testid="viewer-image"]')), WAIT);
    await driver.wait(
      () => driver.executeScript((i) => i.complete && i.naturalWidth > 0, img),
      WAIT,
      `${prompt}: the full image never loaded in the viewer`,
    );
    await shot(`10-viewer-${prompt.replace(/ /g, '-')}`);
    await driver.actions().sendKeys(Key.ESCAPE).perform();
    await driver.wait(until.stalenessOf(img), WAIT);
  }
});

/** Choose an option of a <select> as a person would (WebKitWebDriver cannot click options). */
async function selectValue(css, value) {
  await driver.executeScript(
    (sel, v) => {
      const el = document.querySelector(sel);
      el.value = v;
      el.dispatchEvent(new Event('change', { bubbles: true }));
    },
    css,
    value,
  );
}

test('use settings, vary and the queue drawer in the real app', T, async () => {
  await launch();
  // A fixed seed, so "Use settings" has something to bring back.
  await selectValue('[aria-label="Seed mode"]', 'fixed');
  await driver.wait(until.elementLocated(By.css('[aria-label="Seed value"]')), WAIT);
  // The seed field sits low in the panel: typed through the page, as the
  // field's own input event carries it.
  await driver.executeScript(() => {
    const el = document.querySelector('[aria-label="Seed value"]');
    el.scrollIntoView();
    el.value = '4321';
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
  const first = await generate('a paper boat on a pond');
  await waitStatus('a paper boat on a pond', 'completed');

  // Start over in the panel, then load the job's settings from the viewer.
  await selectValue('[aria-label="Seed mode"]', 'random');
  const box = await driver.findElement(By.css('#prompt'));
  await box.clear();
  await box.sendKeys('something else entirely');
  await driver.findElement(By.css('[data-testid="job-card"][aria-label="a paper boat on a pond"] button.open')).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="use-settings"]')), WAIT).click();
  const valueOf = (css) => driver.executeScript((sel) => document.querySelector(sel)?.value ?? null, css);
  await waitFor(async () => (await valueOf('#prompt')) === 'a paper boat on a pond', 'the prompt loaded');
  assert.equal(await valueOf('[aria-label="Seed value"]'), '4321');
  await shot('09-use-settings');
  // Generate from the loaded settings: the same seed and size, a new job.
  await driver.findElement(By.css('button.generate')).click();
  await waitFor(() => cli('list', '--json').filter((j) => j.prompt === 'a paper boat on a pond').length === 2, 'a second job');
  const jobs = cli('list', '--json').filter((j) => j.prompt === 'a paper boat on a pond');
  const again = jobs.find((j) => j.id !== first);
  const original = cli('show', first, '--json').job;
  assert.deepEqual([again.seed, again.width, again.height, again.model], [4321, original.width, original.height, original.model]);

  // Vary: the same settings, a new seed.
  await driver.findElement(By.css('[data-testid="job-card"][aria-label="a paper boat on a pond"] button.open')).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="vary"]')), WAIT).click();
  await waitFor(() => cli('list', '--json').filter((j) => j.prompt === 'a paper boat on a pond').length === 3, 'a variation');
  const variation = cli('list', '--json').find((j) => j.prompt === 'a paper boat on a pond' && ![first, again.id].includes(j.id));
  assert.notEqual(variation.seed, 4321);
  assert.deepEqual([variation.width, variation.height, variation.model], [original.width, original.height, original.model]);
  await driver.actions().sendKeys(Key.ESCAPE).perform();

  // The queue drawer pauses the real engine: a new job waits until resumed.
  await driver.findElement(By.css('[data-testid="open-queue"]')).click();
  const pause = await driver.wait(until.elementLocated(By.css('[data-testid="queue-pause"]')), WAIT);
  await pause.click();
  await driver.wait(until.elementLocated(By.css('[data-testid="queue-paused"]')), WAIT);
  await driver.findElement(By.css('[aria-label="Close queue"]')).click();
  const waiting = await generate('a kite that waits');
  await sleep(1500);
  assert.equal(cli('show', waiting, '--json').job.status, 'queued', 'a paused queue starts nothing');
  await driver.findElement(By.css('[data-testid="open-queue"]')).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="queue-item"]')), WAIT);
  await shot('10-queue');
  await driver.findElement(By.css('[data-testid="queue-pause"]')).click();
  await driver.findElement(By.css('[aria-label="Close queue"]')).click();
  await waitStatus('a kite that waits', 'completed');
});

test('images out in the real app: a card drags out its file, copy image puts PNG bytes on the clipboard, use as reference feeds a remix; delete and Undo restore the files', T, async () => {
  await launch();
  const id = await generate('a lighthouse to take elsewhere');
  await waitStatus('a lighthouse to take elsewhere', 'completed');
  await waitThumbnail('a lighthouse to take elsewhere');
  const shown = cli('show', id, '--json');
  const path = shown.assets[0].path;
  assert.ok(existsSync(path), 'the image is in the library');

  // Drag out: the drag data names the library file itself.
  const drag = await driver.executeScript((sel) => {
    const el = document.querySelector(sel);
    const dt = new DataTransfer();
    el.dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return [dt.getData('text/uri-list'), dt.getData('text/plain')];
  }, `[data-id="${id}"] button.open`);
  assert.deepEqual(drag, [pathToFileURL(path).href, path]);

  // Copy image: another app reading the clipboard gets this image as PNG.
  await driver.findElement(By.css(`[data-id="${id}"] button.open`)).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="copy-image"]')), WAIT).click();
  await waitToast('Image copied');
  const png = execFileSync('xclip', ['-selection', 'clipboard', '-t', 'image/png', '-o'], { maxBuffer: 64 << 20 });
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG bytes');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [shown.assets[0].width, shown.assets[0].height]);
  await shot('11-viewer-image-actions');

  // Use as reference: the remix model takes it, and the new job names it.
  await driver.findElement(By.css('[data-testid="use-as-reference"]')).click();
  await waitToast('Added as a reference');
  await selectValue('#model', 'easel-remix-1');
  await driver.wait(until.elementLocated(By.css('[data-testid="reference"]')), WAIT);
  const remix = await generate('the lighthouse, remixed');
  await waitStatus('the lighthouse, remixed', 'completed');
  assert.equal(cli('show', remix, '--json').job.reference_ids.length, 1);

  // Delete: the file goes to the trash; Undo in the toast brings it back.
  await driver.findElement(By.css(`[data-id="${id}"] button.open`)).click();
  await driver.wait(until.elementLocated(By.xpath('//dialog//button[normalize-space()="Delete"]')), WAIT).click();
  await driver.wait(until.elementLocated(By.xpath('//button[normalize-space()="Delete job and files"]')), WAIT).click();
  await waitFor(() => !existsSync(path), 'the file left the library');
  const trashed = join(process.env.XDG_DATA_HOME, 'Trash', 'files');
  assert.ok(readdirSync(trashed).includes(basename(path)), 'the file is in the trash');
  const toast = await waitToast('Deleted 1 job');
  const undo = await toast.findElement(By.css('[data-testid="toast-action"]'));
  await undo.click();
  await waitFor(() => existsSync(path), 'the file is back in the library');
  await driver.wait(until.elementLocated(card('a lighthouse to take elsewhere', 'completed')), WAIT);
  assert.equal(cli('show', id, '--json').job.deleted, false);
});

test('compare, previews and boards in the real app: one prompt to two models, the preview while it renders, side by side and slider; a board and a smart board', T, async () => {
  await launch();
  // One prompt to both offline models: "Compare with another model" adds
  // the next one (the remix model), and Generate sends the pair.
  const box = await driver.findElement(By.css('#prompt'));
  await box.clear();
  await box.sendKeys('a windmill at two models');
  await driver.findElement(By.css('[data-testid="add-compare"]')).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="compare-target"]')), WAIT);
  const generateButton = await driver.findElement(By.css('button.generate'));
  assert.match(await generateButton.getText(), /Generate on 2 models/);
  await generateButton.click();

  // The comparison opens at once; the running job shows the provider's
  // preview (a real file, loaded through the app's image scheme).
  const view = await driver.wait(until.elementLocated(By.css('[data-testid="compare"]')), WAIT);
  await driver.wait(
    () =>
      driver.executeScript(() =>
        [...document.querySelectorAll('[data-testid="compare-preview"], [data-testid="card-preview"]')].some(
          (i) => i.complete && i.naturalWidth > 0,
        ),
      ),
    WAIT,
    'no progress preview loaded while the job rendered',
  );
  await shot('12-compare-preview');
  await driver.wait(
    () =>
      driver.executeScript(
        () => [...document.querySelectorAll('[data-testid="compare-image"]')].filter((i) => i.complete && i.naturalWidth > 0).length === 2,
      ),
    WAIT,
    'both images never showed in the comparison',
  );
  const ids = await driver.executeScript(() =>
    [...document.querySelectorAll('[data-testid="job-card"][aria-label="a windmill at two models"]')].map((c) => c.dataset.id),
  );
  assert.equal(ids.length, 2);
  const shown = ids.map((id) => cli('show', id, '--json').job);
  assert.deepEqual(shown.map((j) => j.model).sort(), ['easel-landscape-1', 'easel-remix-1']);
  assert.ok(shown[0].group_id && shown[0].group_id === shown[1].group_id, 'one group');
  assert.deepEqual(shown.map((j) => j.preview_path), [null, null], 'no preview once completed');
  await shot('12-compare-side-by-side');

  // Zoom together, then the slider.
  await view.findElement(By.css('[aria-label="Zoom in"]')).click();
  const transforms = await driver.executeScript(() =>
    [...document.querySelectorAll('[data-testid="compare-image"]')].map((i) => i.style.transform),
  );
  assert.equal(transforms.length, 2);
  assert.match(transforms[0], /scale\(1\.5\)$/);
  assert.equal(transforms[1], transforms[0], 'both panes zoom together');
  await view.findElement(By.css('[data-testid="compare-slider-mode"]')).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="compare-top"]')), WAIT);
  await shot('13-compare-slider');
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await driver.wait(until.stalenessOf(view), WAIT);

  // A board: make one, drag a card onto it, show it, take the image off.
  await driver.findElement(By.css('[data-testid="new-board"]')).click();
  const name = await driver.wait(until.elementLocated(By.css('[aria-label="New board name"]')), WAIT);
  await name.sendKeys('Windmills', Key.ENTER);
  const board = await driver.wait(until.elementLocated(By.css('[data-testid="board"][data-board="Windmills"]')), WAIT);
  await driver.executeScript(
    (id) => {
      const dt = new DataTransfer();
      document.querySelector(`[data-id="${id}"] .open`).dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true }));
      const to = document.querySelector('[data-board="Windmills"]');
      to.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      to.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    ids[0],
  );
  const count = () => board.findElement(By.css('[data-testid="board-count"]')).getText();
  await waitFor(async () => (await count()) === '1', 'the board holds the dragged image');
  await board.click();
  const cardsShown = () => driver.executeScript(() => document.querySelectorAll('[data-testid="job-card"]').length);
  await waitFor(async () => (await cardsShown()) === 1, 'the board shows its one image');
  await shot('14-board');
  await driver.wait(until.elementLocated(By.css(`[data-id="${ids[0]}"] button.open`)), WAIT).click();
  await driver.wait(until.elementLocated(By.css('[data-testid="remove-from-board"]')), WAIT).click();
  await waitFor(async () => (await count()) === '0', 'the image came off the board');
  await driver.actions().sendKeys(Key.ESCAPE).perform();
  await waitFor(async () => (await cardsShown()) === 0, 'the board is empty');

  // A smart board from the filters: favorites of the last 7 days.
  await driver.findElement(By.xpath('//button[normalize-space()="All images"]')).click();
  // The gallery loads again from the top: wait for the card.
  await driver.wait(until.elementLocated(By.css(`[data-id="${ids[1]}"] button.open`)), WAIT).sendKeys('f');
  await waitFor(() => cli('show', ids[1], '--json').job.favorite === true, 'the favorite reached the engine');
  await driver.findElement(By.xpath('//*[@role="search"]//button[contains(., "Favorites")]')).click();
  await selectValue('[role="search"] select[aria-label="Date"]', 'week');
  await driver.findElement(By.css('[data-testid="save-smart-board"]')).click();
  const smartName = await driver.wait(until.elementLocated(By.css('[aria-label="Smart board name"]')), WAIT);
  await smartName.sendKeys('Starred this week', Key.ENTER);
  const smart = await driver.wait(
    until.elementLocated(By.css('[data-testid="board"][data-board="Starred this week"]')),
    WAIT,
  );
  const favorites = cli('list', '--json').filter((j) => j.favorite).length;
  await waitFor(
    async () => (await smart.findElement(By.css('[data-testid="board-count"]')).getText()) === String(favorites),
    `the smart board counts the ${favorites} favorites`,
  );
});
