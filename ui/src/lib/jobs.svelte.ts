// The one store of jobs: every copy of a job the UI shows comes from here.
//
// It is filled by list_jobs (the gallery's pages, and the jobs still in
// flight) and then kept current by `job-event`s. Each summary carries the
// global `seq` of its latest change, so the store keeps, per job, the copy
// with the highest `seq`: an answer that raced an event can never roll a job
// back, and a duplicate event changes nothing.
//
// Each event also names the seq of the event before it (`prev_seq`). When
// that is not the last seq this window saw, something was missed (a dropped
// event, a change that emits none such as a delete, a reloaded window): the
// store refetches what it has loaded instead of guessing.
//
// The gallery's order is kept whole however far the user scrolls, but full
// copies only near the rows on screen (`showing`): the others are dropped to
// their place and shape and fetched again when the grid comes back to them.
// The plain Sets here are private bookkeeping that no template reads; what
// templates read is reactive (the SvelteMap of jobs, `view`, the queue).
/* eslint-disable svelte/prefer-svelte-reactivity */
import { SvelteMap } from 'svelte/reactivity';
import {
  errorKind,
  errorMessage,
  getJob,
  listJobs,
  onJobEvent,
  type JobEvent,
  type JobSummary,
  type ListQuery,
} from './api';
import {
  ACTIVE_STATUSES,
  compareKeys,
  insertionIndex,
  isActive,
  keyOf,
  matchesFilter,
  queuePositions,
  toQuery,
  type GalleryFilter,
  type JobKey,
} from './order';

/** Rows per gallery page. */
export const PAGE_SIZE = 150;
/** The most rows the engine returns for one list_jobs call. */
export const MAX_LIMIT = 1000;
/** At most this many single get_job calls when checking jobs after a gap. */
const MAX_SINGLE_CHECKS = 200;
/**
 * A refetch reloads at most this many gallery rows; beyond them the gallery
 * pages again as the user scrolls (a refetch is rare: a missed event).
 */
const MAX_REFETCH_ROWS = 5 * MAX_LIMIT;
/**
 * Full copies of gallery jobs kept beyond the ones near the viewport. A
 * flung-through library of 100,000 jobs held every copy (about 2 KB each in
 * the app's web process); past this many, those far from the viewport are
 * dropped to their place in the order and their shape, and fetched again
 * when the grid comes back to them.
 */
export const RESIDENT_JOBS = 3 * MAX_LIMIT;
/** Rows on either side of the grid's visible ones that are never dropped. */
const KEEP_AROUND = 2 * PAGE_SIZE;

/**
 * What the grid needs of a job it does not hold: its place and its shape,
 * and the seq of the copy they came from.
 */
type Shape = Pick<JobSummary, 'created_at' | 'width' | 'height' | 'seq'>;

/** Whether any filter narrows the gallery (an empty result is then "no match"). */
export function isFiltered(f: GalleryFilter): boolean {
  return !!(f.status || f.provider || f.model || f.since !== undefined || f.period || f.favorite || f.search || f.board !== undefined);
}

export class JobStore {
  readonly #jobs = new SvelteMap<string, JobSummary>();
  /** The place and shape of every job the store holds or dropped from the view. */
  readonly #shapes = new Map<string, Shape>();
  /** The view's rows the grid shows (with its margin), as [first, last]. */
  #window: [number, number] = [0, 0];
  /** Dropped jobs being fetched again. */
  readonly #hydrating = new Set<string>();
  /** The error shown is from fetching dropped jobs again (the next success clears it). */
  #fillFailed = false;
  /** Jobs the UI still needs in full whatever their place (the selection). */
  keep: (id: string) => boolean = () => false;

  /** Ids in gallery order (newest first) under `filter`, as far as loaded. */
  view = $state.raw<string[]>([]);
  #viewSet = new Set<string>();
  /** The gallery's filter; change it with `setFilter`. */
  filter = $state.raw<GalleryFilter>({});
  /** Whether list_jobs has more rows after the loaded ones. */
  hasMore = $state(true);
  /** A page of the gallery is being fetched. */
  loading = $state(false);
  /** Bumped whenever the gallery starts over (a new filter). */
  epoch = $state(0);
  /** null until the first load has finished. */
  ready = $state<boolean | null>(null);
  error = $state<string | null>(null);

  /** The last row list_jobs returned for the view: the keyset cursor. */
  #cursor: JobKey | null = null;
  /** Bumped by every reload; answers for an older one are dropped. */
  #generation = 0;
  /** Ids changed while a load was in flight, placed again once it lands. */
  readonly #touched = new Set<string>();
  #loadsInFlight = 0;
  /** Jobs whose latest copy is in flight or held. */
  readonly #active = new Set<string>();
  /** Jobs whose latest copy is waiting in the queue. */
  readonly #queued = new Set<string>();
  #queuedVersion = $state(0);
  #positions = $derived.by(() => {
    void this.#queuedVersion;
    const jobs: JobSummary[] = [];
    for (const id of this.#queued) {
      const job = this.#jobs.get(id);
      if (job) jobs.push(job);
    }
    return queuePositions(jobs);
  });

  /**
   * The seq of the last event seen. The shell's bridge starts its chain at
   * prev_seq 0, so a window that is there from the start refetches nothing,
   * while a reloaded one (mid-chain) sees a mismatch and refetches.
   */
  #lastSeq = 0;
  #refetching: Promise<void> | null = null;
  #refetchAgain = false;
  #unlisten: (() => void) | null = null;

  /**
   * The latest copy of a job (reactive per job); undefined for a gallery job
   * far from the viewport whose copy was dropped (see `showing`).
   */
  get(id: string): JobSummary | undefined {
    return this.#jobs.get(id);
  }

  /** Whether the store holds the job or its place in the gallery. */
  knows(id: string): boolean {
    return this.#jobs.has(id) || this.#shapes.has(id);
  }

  /** A gallery job's width and height, held or dropped (1×1 if unknown). */
  shape(id: string): { width: number; height: number } {
    return this.#jobs.get(id) ?? this.#shapes.get(id) ?? { width: 1, height: 1 };
  }

  #keyOf(id: string): JobKey {
    const known = this.#jobs.get(id) ?? this.#shapes.get(id);
    return known ? [known.created_at, id] : [Number.POSITIVE_INFINITY, ''];
  }

  /** How many gallery jobs are held in full (the rest are dropped). */
  get residentCount(): number {
    let n = 0;
    for (const id of this.#viewSet) if (this.#jobs.has(id)) n += 1;
    return n;
  }

  /**
   * The grid shows the view's rows `first..=last`: fetch the dropped ones
   * among them, and drop copies far from them when too many are held.
   */
  showing(first: number, last: number): Promise<void> {
    this.#window = [first, last];
    this.#dropFar();
    return this.fill(first, last);
  }

  /**
   * How many copies stayed after the last drop (what the window, the jobs
   * in flight and the selection hold): the next drop waits for a page more.
   */
  #kept = 0;

  /** Drop the full copies of gallery jobs far from the window, past the budget. */
  #dropFar(): void {
    if (this.#jobs.size <= Math.max(RESIDENT_JOBS, this.#kept + PAGE_SIZE)) return;
    const view = this.view;
    const lo = this.#window[0] - KEEP_AROUND;
    const hi = this.#window[1] + KEEP_AROUND;
    for (let i = 0; i < view.length; i += 1) {
      if (i >= lo && i <= hi) {
        i = hi; // the rows near the window stay
        continue;
      }
      const id = view[i];
      // What is in flight, queued, held, selected or changing stays whole.
      if (this.#active.has(id) || this.#queued.has(id) || this.#touched.has(id) || this.keep(id)) continue;
      this.#jobs.delete(id);
    }
    this.#kept = this.#jobs.size;
  }

  /** Fetch the full copies of the view's rows `first..=last` that were dropped. */
  async fill(first: number, last: number): Promise<void> {
    const view = this.view;
    const generation = this.#generation;
    const missing = (i: number) => !this.#jobs.has(view[i]) && !this.#hydrating.has(view[i]);
    const runs: [number, number][] = [];
    for (let i = Math.max(0, first); i <= Math.min(view.length - 1, last); i += 1) {
      if (!missing(i)) continue;
      const start = i;
      while (i + 1 <= last && i + 1 < view.length && i + 1 - start < MAX_LIMIT / 2 && missing(i + 1)) i += 1;
      runs.push([start, i]);
    }
    await Promise.all(runs.map(([a, b]) => this.#fillRun(view, a, b, generation)));
  }

  /**
   * One run of dropped rows: the page that follows the row before it (the
   * keyset cursor), then one by one whatever that page no longer holds
   * (deleted meanwhile: they leave the view).
   */
  async #fillRun(view: string[], a: number, b: number, generation: number): Promise<void> {
    const ids = view.slice(a, b + 1);
    for (const id of ids) this.#hydrating.add(id);
    try {
      // A little more than the run: jobs created meanwhile push rows down.
      const query: ListQuery = { ...toQuery(this.filter), limit: Math.min(MAX_LIMIT, ids.length + 50) };
      if (a > 0) {
        const [at, id] = this.#keyOf(view[a - 1]);
        query.before = [at, id];
      }
      const rows = await listJobs(query);
      if (generation !== this.#generation) return;
      for (const row of rows) this.upsert(row);
      await this.#fetchEach(ids.filter((id) => !this.#jobs.has(id) && this.#viewSet.has(id)).slice(0, MAX_SINGLE_CHECKS));
      if (this.#fillFailed) {
        this.#fillFailed = false;
        this.error = null;
      }
    } catch (err) {
      if (generation === this.#generation) {
        this.error = errorMessage(err);
        this.#fillFailed = true;
      }
    } finally {
      for (const id of ids) this.#hydrating.delete(id);
    }
  }

  /** The loaded gallery as summaries (small views and tests). */
  viewJobs(): JobSummary[] {
    return this.view.map((id) => this.#jobs.get(id)).filter((j): j is JobSummary => !!j);
  }

  /** 1 for the next job to run, among queued jobs the store knows; null if not queued. */
  queuePosition(id: string): number | null {
    return this.#positions.get(id) ?? null;
  }

  get queuedCount(): number {
    return this.#positions.size;
  }

  /** The last event seq this window saw (0: none yet). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Keep whichever copy of a job is newer; returns whether this one was. */
  upsert(job: JobSummary): boolean {
    if (!this.#apply(job)) return false;
    this.#place(job);
    return true;
  }

  /** Store a copy without touching the gallery order. */
  #apply(job: JobSummary): boolean {
    const known = this.#jobs.get(job.id);
    if (known && job.seq <= known.seq) return false;
    const shape = this.#shapes.get(job.id);
    // A copy older than the one that was dropped (a page that raced an
    // event) would roll the job back.
    if (!known && shape && job.seq < shape.seq) return false;
    this.#jobs.set(job.id, job);
    this.#shapes.set(job.id, { created_at: job.created_at, width: job.width, height: job.height, seq: job.seq });
    if (this.#loadsInFlight > 0) this.#touched.add(job.id);

    if (isActive(job.status) || job.held) this.#active.add(job.id);
    else this.#active.delete(job.id);

    const queued = job.status === 'queued' && !job.held;
    const wasQueued = this.#queued.has(job.id);
    if (queued && !wasQueued) this.#queued.add(job.id);
    if (!queued && wasQueued) this.#queued.delete(job.id);
    if (queued !== wasQueued) this.#queuedVersion += 1;
    return true;
  }

  /** Put a job into, or take it out of, the gallery as its latest copy says. */
  #place(job: JobSummary): void {
    if (this.#viewSet.has(job.id)) {
      // A prompt never changes, so a search result stays one; other filters
      // (status, favorite) can stop matching.
      if (!matchesFilter(job, this.filter, false)) this.#removeFromView(new Set([job.id]));
      return;
    }
    if (!matchesFilter(job, this.filter)) return;
    // Beyond the loaded range the job arrives with its page.
    const inRange =
      !this.hasMore || (this.#cursor !== null && compareKeys(keyOf(job), this.#cursor) <= 0);
    if (!inRange) return;
    const view = this.view;
    const at = insertionIndex(
      view.length,
      (i) => this.#keyOf(view[i]),
      keyOf(job),
    );
    const next = view.slice();
    next.splice(at, 0, job.id);
    this.#viewSet.add(job.id);
    this.view = next;
  }

  #removeFromView(ids: Set<string>): void {
    let hit = false;
    for (const id of ids) hit = this.#viewSet.delete(id) || hit;
    if (hit) this.view = this.view.filter((id) => !ids.has(id));
  }

  #placeTouched(): void {
    const ids = [...this.#touched];
    this.#touched.clear();
    for (const id of ids) {
      const job = this.#jobs.get(id);
      if (job) this.#place(job);
    }
  }

  /** Apply one `job-event`, refetching when the seq chain shows a gap. */
  applyEvent(event: JobEvent): void {
    const last = this.#lastSeq;
    if (event.seq <= last) {
      // A duplicate or an old event: the seq check in upsert keeps it harmless.
      this.upsert(event.job);
      return;
    }
    this.#lastSeq = event.seq;
    this.upsert(event.job);
    if ((event.prev_seq ?? null) !== last) void this.refetch();
  }

  /** Show the gallery under a new filter, from the top. */
  setFilter(filter: GalleryFilter): Promise<void> {
    this.filter = filter;
    return this.#reload(true);
  }

  /** Fetch the next page of the gallery (keyset: after the last row). */
  async loadMore(): Promise<void> {
    if (this.loading || !this.hasMore) return;
    const generation = this.#generation;
    const cursor = this.#cursor;
    await this.#fetching(generation, async () => {
      const query: ListQuery = { ...toQuery(this.filter), limit: PAGE_SIZE };
      if (cursor) query.before = [cursor[0], cursor[1]];
      const rows = await listJobs(query);
      if (generation !== this.#generation) return;
      for (const row of rows) this.#apply(row);
      const fresh: string[] = [];
      for (const row of rows) {
        const job = this.#jobs.get(row.id);
        if (job && !this.#viewSet.has(job.id) && matchesFilter(job, this.filter, false)) {
          fresh.push(job.id);
          this.#viewSet.add(job.id);
        }
      }
      if (fresh.length > 0) this.view = this.view.concat(fresh);
      this.#loaded(rows, rows.length === PAGE_SIZE, true);
      this.#dropFar();
    });
  }

  /**
   * The bookkeeping every gallery fetch shares: the loading flag, the
   * in-flight count, and errors, which only the latest generation reports.
   */
  async #fetching(generation: number, work: () => Promise<void>): Promise<void> {
    this.loading = true;
    this.#touched.clear();
    this.#loadsInFlight += 1;
    try {
      await work();
    } catch (err) {
      if (generation === this.#generation) this.#failed(err);
    } finally {
      this.#loadsInFlight -= 1;
      if (generation === this.#generation) this.loading = false;
    }
  }

  /** A fetch landed: move the keyset cursor, place what changed meanwhile. */
  #loaded(rows: JobSummary[], more: boolean, keepCursorWhenEmpty: boolean): void {
    if (rows.length > 0) this.#cursor = keyOf(rows[rows.length - 1]);
    else if (!keepCursorWhenEmpty) this.#cursor = null;
    this.hasMore = more;
    this.#placeTouched();
    this.ready = true;
    this.error = null;
  }

  /**
   * Load the gallery again. `reset` starts from one page (a new filter);
   * otherwise as many rows as are loaded now are fetched again and swapped in
   * at once, so the screen does not blank (a refetch after a gap).
   */
  async #reload(reset: boolean): Promise<void> {
    const generation = ++this.#generation;
    const want = reset ? PAGE_SIZE : Math.min(MAX_REFETCH_ROWS, Math.max(PAGE_SIZE, this.view.length));
    if (reset) {
      this.view = [];
      this.#viewSet = new Set();
      this.#cursor = null;
      this.hasMore = true;
      this.epoch += 1;
    }
    await this.#fetching(generation, async () => {
      const base = toQuery(this.filter);
      const rows: JobSummary[] = [];
      let more = true;
      let before: JobKey | null = null;
      while (rows.length < want) {
        const limit = Math.min(MAX_LIMIT, want - rows.length);
        const query: ListQuery = { ...base, limit };
        if (before) query.before = [before[0], before[1]];
        const page = await listJobs(query);
        if (generation !== this.#generation) return;
        rows.push(...page);
        if (page.length < limit) {
          more = false;
          break;
        }
        before = keyOf(page[page.length - 1]);
      }
      for (const row of rows) this.#apply(row);
      const ids: string[] = [];
      for (const row of rows) {
        const job = this.#jobs.get(row.id);
        if (job && matchesFilter(job, this.filter, false)) ids.push(job.id);
      }
      this.#viewSet = new Set(ids);
      this.view = ids;
      // Dropped jobs the new view does not hold are forgotten.
      for (const id of this.#shapes.keys()) {
        if (!this.#jobs.has(id) && !this.#viewSet.has(id)) this.#shapes.delete(id);
      }
      this.#loaded(rows, more, false);
      this.#dropFar();
    });
  }

  #failed(err: unknown): void {
    this.error = errorMessage(err);
    if (this.ready === null) this.ready = false;
  }

  /**
   * Bring every copy the store holds up to date: the loaded gallery, and the
   * jobs in flight or held (queue positions, the recovery banner, the viewer).
   * Calls that overlap are folded into one more round.
   */
  refetch(): Promise<void> {
    if (this.#refetching) {
      this.#refetchAgain = true;
      return this.#refetching;
    }
    this.#refetching = (async () => {
      try {
        do {
          this.#refetchAgain = false;
          await Promise.all([this.#reload(false), this.refreshActive()]);
        } while (this.#refetchAgain);
      } finally {
        this.#refetching = null;
      }
    })();
    return this.#refetching;
  }

  /** Load every job in flight or held, and recheck ones the store thinks are. */
  async refreshActive(): Promise<void> {
    const queries: ListQuery[] = [
      ...ACTIVE_STATUSES.map((status): ListQuery => ({ status, limit: MAX_LIMIT })),
      { held: true, limit: MAX_LIMIT },
    ];
    try {
      const pages = await Promise.all(queries.map((q) => listJobs(q)));
      const seen = new Set<string>();
      for (const page of pages) {
        for (const job of page) {
          seen.add(job.id);
          this.upsert(job);
        }
      }
      // Jobs believed active that no list mentions have moved on (or are gone).
      const stale = [...this.#active].filter((id) => !seen.has(id)).slice(0, MAX_SINGLE_CHECKS);
      await this.#fetchEach(stale);
    } catch (err) {
      this.error = errorMessage(err);
    }
  }

  /** Fetch jobs the store does not hold yet (e.g. the recovery banner's). */
  ensure(ids: string[]): Promise<void> {
    return this.#fetchEach(ids.filter((id) => !this.#jobs.has(id)).slice(0, MAX_SINGLE_CHECKS));
  }

  async #fetchEach(ids: string[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        try {
          this.upsert((await getJob(id)).job);
        } catch (err) {
          if (errorKind(err) === 'not_found') this.remove([id]);
        }
      }),
    );
  }

  /** Forget jobs that were deleted. */
  remove(ids: Iterable<string>): void {
    const gone = new Set(ids);
    let queueChanged = false;
    for (const id of gone) {
      this.#jobs.delete(id);
      this.#shapes.delete(id);
      this.#active.delete(id);
      this.#touched.delete(id);
      queueChanged = this.#queued.delete(id) || queueChanged;
    }
    if (queueChanged) this.#queuedVersion += 1;
    this.#removeFromView(gone);
  }

  /** The ids before and after `id` in the gallery, for the viewer. */
  neighbors(id: string): { prev: string | null; next: string | null; index: number } {
    const index = this.view.indexOf(id);
    if (index < 0) return { prev: null, next: null, index };
    return {
      prev: index > 0 ? this.view[index - 1] : null,
      next: index + 1 < this.view.length ? this.view[index + 1] : null,
      index,
    };
  }

  async start(): Promise<void> {
    // Subscribe before the first load so nothing falls between the two.
    try {
      this.#unlisten = await onJobEvent((event) => this.applyEvent(event));
    } catch (err) {
      this.error = errorMessage(err);
    }
    await Promise.all([this.#reload(true), this.refreshActive()]);
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = null;
  }
}
