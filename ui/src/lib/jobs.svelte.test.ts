import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobDetail, JobEvent, JobSummary, ListQuery } from './api';
import { compareKeys, keyOf } from './order';
import { testJob } from './test-jobs';

// The store talks to the shell only through ./api; stand in for it with a
// tiny in-memory engine that answers list_jobs like the real one.
let db: JobSummary[] = [];

function fakeList(query: ListQuery = {}): JobSummary[] {
  const rows = db
    .filter((j) => !query.status || j.status === query.status)
    .filter((j) => !query.provider || j.provider === query.provider)
    .filter((j) => query.favorite === undefined || j.favorite === query.favorite)
    .filter((j) => query.held === undefined || j.held === query.held)
    .filter((j) => !query.search || j.prompt.includes(query.search))
    .filter((j) => !query.before || compareKeys(keyOf(j), query.before) > 0)
    .sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  return rows.slice(0, query.limit ?? 100);
}

const api = vi.hoisted(() => ({
  listJobs: vi.fn<(q?: ListQuery) => Promise<JobSummary[]>>(),
  getJob: vi.fn<(id: string) => Promise<JobDetail>>(),
  onJobEvent: vi.fn<(h: (event: JobEvent) => void) => Promise<() => void>>(),
}));
vi.mock('./api', () => ({
  listJobs: api.listJobs,
  getJob: api.getJob,
  onJobEvent: api.onJobEvent,
  errorMessage: (e: unknown) => (e instanceof Error ? e.message : String(e)),
  errorKind: (e: unknown) =>
    e && typeof e === 'object' && 'kind' in e ? (e as { kind: string }).kind : null,
}));

const { JobStore, PAGE_SIZE, RESIDENT_JOBS } = await import('./jobs.svelte');

function job(
  id: string,
  seq: number,
  status: JobSummary['status'],
  created_at = 1000,
  extra: Partial<JobSummary> = {},
): JobSummary {
  return testJob(id, { seq, status, created_at, ...extra });
}

/** Put a job into the fake engine (as a change the UI may not hear about). */
function save(j: JobSummary): JobSummary {
  db = db.filter((x) => x.id !== j.id).concat(j);
  return j;
}

let emit: (event: JobEvent) => void = () => {};
let lastEmitted = 0;

/** Emit the next event in the chain (prev_seq = the previous one emitted). */
function event(j: JobSummary): void {
  save(j);
  const e: JobEvent = { seq: j.seq, prev_seq: lastEmitted, job: j };
  lastEmitted = j.seq;
  emit(e);
}

/** Let pending promises (a refetch) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

function ids(store: InstanceType<typeof JobStore>): string[] {
  return store.viewJobs().map((j) => j.id);
}

/** A started store that has seen one event, so the chain is established. */
async function startedStore(): Promise<InstanceType<typeof JobStore>> {
  const store = new JobStore();
  await store.start();
  event(save(job('boot', 1, 'completed', 1)));
  await settle();
  api.listJobs.mockClear();
  return store;
}

beforeEach(() => {
  db = [];
  lastEmitted = 0;
  api.listJobs.mockReset();
  api.listJobs.mockImplementation(async (q) => fakeList(q));
  api.getJob.mockReset();
  api.getJob.mockImplementation(async (id) => {
    const found = db.find((j) => j.id === id);
    if (!found) throw { kind: 'not_found', message: `no job ${id}` };
    return { job: found, attempts: [], timeline: [], assets: [], ledger: [] };
  });
  api.onJobEvent.mockReset();
  api.onJobEvent.mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
});

describe('JobStore loading', () => {
  it('loads the first page newest first', async () => {
    save(job('a', 1, 'completed', 1000));
    save(job('b', 2, 'completed', 2000));
    const store = new JobStore();
    await store.start();
    expect(store.ready).toBe(true);
    expect(ids(store)).toEqual(['b', 'a']);
  });

  it('pages by keyset, passing the last row as `before`', async () => {
    for (let i = 0; i < PAGE_SIZE + 10; i += 1) save(job(`j${i}`, i + 1, 'completed', 10_000 + i));
    const store = new JobStore();
    await store.start();
    expect(store.view).toHaveLength(PAGE_SIZE);
    expect(store.hasMore).toBe(true);
    const last = store.get(store.view[PAGE_SIZE - 1])!;
    await store.loadMore();
    expect(api.listJobs).toHaveBeenLastCalledWith({
      limit: PAGE_SIZE,
      before: [last.created_at, last.id],
    });
    expect(store.view).toHaveLength(PAGE_SIZE + 10);
    expect(store.hasMore).toBe(false);
    expect(new Set(store.view).size).toBe(store.view.length);
  });

  it('reports a failed load', async () => {
    api.listJobs.mockRejectedValue(new Error('database is locked'));
    const store = new JobStore();
    await store.start();
    expect(store.ready).toBe(false);
    expect(store.error).toBe('database is locked');
  });

  it('drops a page that answers for an older filter', async () => {
    save(job('a', 1, 'completed', 1000));
    save(job('b', 2, 'failed', 2000));
    const store = new JobStore();
    let release: () => void = () => {};
    api.listJobs.mockImplementationOnce(async (q) => {
      await new Promise<void>((r) => (release = r));
      return fakeList(q);
    });
    const first = store.setFilter({});
    const second = store.setFilter({ status: 'failed' });
    await second;
    release();
    await first;
    expect(ids(store)).toEqual(['b']);
  });
});

describe('JobStore events', () => {
  it('applies events in order without refetching', async () => {
    save(job('a', 1, 'queued'));
    const store = await startedStore();
    event(job('a', 2, 'processing'));
    event(job('a', 3, 'completed'));
    expect(store.get('a')!.status).toBe('completed');
    event(job('c', 4, 'queued', 3000));
    expect(ids(store)).toEqual(['c', 'a', 'boot']);
    await settle();
    expect(api.listJobs).not.toHaveBeenCalled();
  });

  it('ignores duplicate and stale events', async () => {
    const store = await startedStore();
    const done = job('a', 5, 'completed', 2000);
    event(done);
    emit({ seq: 5, prev_seq: 1, job: done });
    emit({ seq: 3, prev_seq: 2, job: job('a', 3, 'processing', 2000) });
    await settle();
    expect(ids(store)).toEqual(['a', 'boot']);
    expect(store.get('a')!.status).toBe('completed');
    expect(store.lastSeq).toBe(5);
    expect(api.listJobs).not.toHaveBeenCalled();
  });

  it('refetches what is loaded when an event reveals a gap', async () => {
    save(job('a', 2, 'queued', 2000));
    save(job('b', 3, 'queued', 3000));
    const store = await startedStore();
    // Changes the window never hears about: one job finished, one was deleted.
    save(job('a', 4, 'completed', 2000, { thumb_path: '/lib/a.png' }));
    db = db.filter((j) => j.id !== 'b');
    lastEmitted = 5;
    // The next event says its predecessor was 5; the window last saw 1.
    event(job('c', 6, 'queued', 4000));
    await settle();
    expect(api.listJobs).toHaveBeenCalled();
    expect(ids(store)).toEqual(['c', 'a', 'boot']);
    expect(store.get('a')!.status).toBe('completed');
    expect(store.get('b')).toBeUndefined();
    // The chain continues from the new event without another refetch.
    api.listJobs.mockClear();
    event(job('c', 7, 'processing', 4000));
    await settle();
    expect(api.listJobs).not.toHaveBeenCalled();
  });

  it('refetches on the first event after a (re)load', async () => {
    const store = new JobStore();
    await store.start();
    api.listJobs.mockClear();
    lastEmitted = 41;
    event(job('x', 42, 'queued', 5000));
    await settle();
    expect(api.listJobs).toHaveBeenCalled();
    expect(ids(store)).toEqual(['x']);
  });

  it('does not refetch when the chain starts where the window started', async () => {
    const store = new JobStore();
    await store.start();
    api.listJobs.mockClear();
    event(job('x', 1, 'queued', 5000));
    event(job('x', 2, 'processing', 5000));
    await settle();
    expect(api.listJobs).not.toHaveBeenCalled();
    expect(ids(store)).toEqual(['x']);
  });

  it('folds overlapping gaps into one more refetch', async () => {
    const store = await startedStore();
    lastEmitted = 10;
    event(job('a', 11, 'queued', 2000));
    lastEmitted = 20;
    event(job('b', 21, 'queued', 3000));
    lastEmitted = 30;
    event(job('c', 31, 'queued', 4000));
    await settle();
    // One refetch round is 1 gallery page + 4 active statuses + held = 6 calls.
    expect(api.listJobs.mock.calls.length).toBeLessThanOrEqual(12);
    expect(ids(store)).toEqual(['c', 'b', 'a', 'boot']);
  });

  it('keeps an event that raced the first load', async () => {
    save(job('a', 7, 'completed'));
    let resolveList: (jobs: JobSummary[]) => void = () => {};
    api.listJobs.mockImplementationOnce(() => new Promise((r) => (resolveList = r)));
    const store = new JobStore();
    const started = store.start();
    await Promise.resolve();
    emit({ seq: 7, prev_seq: 6, job: job('a', 7, 'completed') });
    resolveList([job('a', 6, 'saving')]);
    await started;
    await settle();
    expect(store.get('a')!.status).toBe('completed');
    expect(ids(store)).toEqual(['a']);
  });

  it('never rolls a job back to an answer older than an event', async () => {
    save(job('a', 2, 'processing', 2000));
    const store = await startedStore();
    let resolveList: (jobs: JobSummary[]) => void = () => {};
    api.listJobs.mockImplementationOnce(() => new Promise((r) => (resolveList = r)));
    const reload = store.setFilter({});
    event(job('a', 3, 'completed', 2000));
    resolveList([job('a', 2, 'processing', 2000), job('boot', 1, 'completed', 1)]);
    await reload;
    expect(store.get('a')!.status).toBe('completed');
    expect(ids(store)).toEqual(['a', 'boot']);
    expect(api.listJobs).toHaveBeenCalledTimes(1);
  });

  it('places a job created during a load', async () => {
    save(job('old', 2, 'completed', 1000));
    const store = await startedStore();
    let resolveList: (jobs: JobSummary[]) => void = () => {};
    api.listJobs.mockImplementationOnce(() => new Promise((r) => (resolveList = r)));
    const reload = store.setFilter({});
    // The answer was read before the job existed; the event comes meanwhile.
    event(job('new', 3, 'queued', 9000));
    resolveList([job('old', 2, 'completed', 1000), job('boot', 1, 'completed', 1)]);
    await reload;
    expect(ids(store)).toEqual(['new', 'old', 'boot']);
  });
});

describe('JobStore filters', () => {
  it('adds new matching jobs and drops ones that stop matching', async () => {
    save(job('q1', 2, 'queued', 2000));
    save(job('done', 3, 'completed', 3000));
    const store = await startedStore();
    await store.setFilter({ status: 'queued' });
    expect(ids(store)).toEqual(['q1']);
    event(job('q2', 4, 'queued', 4000));
    expect(ids(store)).toEqual(['q2', 'q1']);
    event(job('q1', 5, 'processing', 2000));
    expect(ids(store)).toEqual(['q2']);
    event(job('other', 6, 'completed', 5000));
    expect(ids(store)).toEqual(['q2']);
  });

  it('only inserts new jobs whose prompt matches the search', async () => {
    const store = await startedStore();
    await store.setFilter({ search: 'lighthouse' });
    event(job('m', 2, 'queued', 2000, { prompt: 'A Lighthouse at dusk' }));
    event(job('n', 3, 'queued', 3000, { prompt: 'a forest' }));
    expect(ids(store)).toEqual(['m']);
  });

  it('leaves jobs beyond the loaded range to paging', async () => {
    for (let i = 0; i < PAGE_SIZE + 5; i += 1) save(job(`j${i}`, i + 2, 'queued', 10_000 + i));
    const store = await startedStore();
    expect(store.view).toHaveLength(PAGE_SIZE);
    // An old job (created before every loaded row) changes: not inserted yet.
    event(job('j0', 1000, 'completed', 10_000));
    expect(store.view).not.toContain('j0');
    await store.loadMore();
    expect(store.view.filter((id) => id === 'j0')).toHaveLength(1);
  });
});

describe('JobStore queue and removal', () => {
  it('numbers queued jobs oldest first and follows changes', async () => {
    save(job('a', 2, 'queued', 1000));
    save(job('b', 3, 'queued', 2000));
    save(job('c', 4, 'queued', 3000));
    const store = await startedStore();
    expect([store.queuePosition('a'), store.queuePosition('b'), store.queuePosition('c')]).toEqual([1, 2, 3]);
    event(job('a', 5, 'processing', 1000));
    expect(store.queuePosition('a')).toBeNull();
    expect(store.queuePosition('b')).toBe(1);
    expect(store.queuePosition('c')).toBe(2);
  });

  it('knows queued jobs outside the gallery filter', async () => {
    save(job('a', 2, 'queued', 1000));
    save(job('b', 3, 'queued', 2000, { favorite: true }));
    const store = await startedStore();
    await store.setFilter({ favorite: true });
    expect(ids(store)).toEqual(['b']);
    expect(store.queuePosition('b')).toBe(2);
  });

  it('removes deleted jobs everywhere', async () => {
    save(job('a', 2, 'queued', 1000));
    save(job('b', 3, 'completed', 2000));
    const store = await startedStore();
    store.remove(['a']);
    expect(ids(store)).toEqual(['b', 'boot']);
    expect(store.get('a')).toBeUndefined();
    expect(store.queuePosition('a')).toBeNull();
  });

  it('ensure fetches jobs it does not hold', async () => {
    const store = await startedStore();
    save(job('far', 9, 'processing', 1));
    await store.ensure(['far', 'missing']);
    expect(store.get('far')!.status).toBe('processing');
    expect(store.get('missing')).toBeUndefined();
  });
});

describe('JobStore keeps a bounded gallery', () => {
  const N = RESIDENT_JOBS + 8 * PAGE_SIZE;

  /** A store flung through a library larger than its budget, showing the end. */
  async function flungStore(
    extra: (i: number) => Partial<JobSummary> = () => ({}),
  ): Promise<InstanceType<typeof JobStore>> {
    for (let i = 0; i < N; i += 1) {
      save(job(`j${i}`, i + 2, 'completed', 100_000 + i, { width: 500 + (i % 7), height: 400, ...extra(i) }));
    }
    const store = await startedStore();
    while (store.hasMore) {
      await store.loadMore();
      void store.showing(Math.max(0, store.view.length - 20), store.view.length - 1);
    }
    await settle();
    api.listJobs.mockClear();
    return store;
  }

  const stored = (id: string) => db.find((j) => j.id === id);

  it('drops the copies far from the rows on screen and keeps their place and shape', async () => {
    const store = await flungStore();
    expect(store.view).toHaveLength(N + 1);
    expect(new Set(store.view).size).toBe(N + 1);
    expect(store.residentCount).toBeLessThanOrEqual(RESIDENT_JOBS);
    expect(store.residentCount).toBeGreaterThan(0);
    const top = store.view[0];
    expect(store.get(top)).toBeUndefined();
    expect(store.knows(top)).toBe(true);
    expect(store.shape(top)).toMatchObject({ width: stored(top)!.width, height: 400 });
    // The rows on screen are whole.
    const end = store.view.at(-1)!;
    expect(store.get(end)).toEqual(stored(end));
  });

  it('fetches dropped rows again, in one keyset page, when the grid comes back to them', async () => {
    const store = await flungStore();
    const order = [...store.view];
    await store.showing(100, 160);
    expect(api.listJobs).toHaveBeenCalledTimes(1);
    const before = stored(order[99])!;
    expect(api.listJobs.mock.calls[0][0]).toMatchObject({ before: [before.created_at, before.id] });
    for (let i = 100; i <= 160; i += 1) expect(store.get(order[i])).toEqual(stored(order[i]));
    expect(store.view).toEqual(order);
    // Showing them again fetches nothing.
    await store.showing(100, 160);
    expect(api.listJobs).toHaveBeenCalledTimes(1);
  });

  it('takes a newer copy of a dropped job, and never an older one', async () => {
    const store = await flungStore();
    const id = store.view[5];
    const old = stored(id)!;
    event({ ...old, seq: N + 100, favorite: true });
    expect(store.get(id)!.favorite).toBe(true);
    // Scroll through more than the budget and away (the copy is dropped),
    // then a stale answer arrives.
    await store.fill(0, RESIDENT_JOBS);
    void store.showing(N - 20, N);
    expect(store.get(id)).toBeUndefined();
    expect(store.upsert(old)).toBe(false);
    expect(store.get(id)).toBeUndefined();
    await store.fill(5, 5);
    expect(store.get(id)!.favorite).toBe(true);
  });

  it('never drops jobs in flight, queued, or kept (the selection)', async () => {
    const store = await flungStore((i) => (i === 1 ? { status: 'processing' } : i === 2 ? { status: 'queued' } : {}));
    expect(store.get('j1')!.status).toBe('processing');
    expect(store.get('j2')!.status).toBe('queued');
    // The selection is kept whole from the moment it is chosen.
    await store.fill(0, RESIDENT_JOBS);
    const picked = store.view[20];
    store.keep = (id) => id === picked;
    void store.showing(N - 20, N);
    expect(store.get(picked)).toEqual(stored(picked));
    expect(store.get(store.view[21])).toBeUndefined();
  });

  it('takes a dropped job deleted meanwhile out of the gallery when it comes back on screen', async () => {
    const store = await flungStore();
    const id = store.view[3];
    db = db.filter((j) => j.id !== id);
    await store.showing(0, 10);
    expect(store.view).not.toContain(id);
    expect(store.knows(id)).toBe(false);
    expect(store.view.slice(0, 10).every((v) => store.get(v))).toBe(true);
  });

  it('reports a failed fetch of dropped rows, and clears it when one succeeds', async () => {
    const store = await flungStore();
    api.listJobs.mockRejectedValueOnce(new Error('database is locked'));
    await store.showing(0, 10);
    expect(store.error).toBe('database is locked');
    expect(store.get(store.view[0])).toBeUndefined();
    await store.showing(0, 10);
    expect(store.error).toBeNull();
    expect(store.get(store.view[0])).toEqual(stored(store.view[0]));
  });

  it('forgets dropped jobs under a new filter', async () => {
    const store = await flungStore();
    const top = store.view[0];
    await store.setFilter({ status: 'failed' });
    expect(store.knows(top)).toBe(false);
    await store.setFilter({});
    expect(store.view.slice(0, PAGE_SIZE).every((v) => store.get(v))).toBe(true);
  });
});
