// Pure helpers for the gallery's order, its filters and the queue.
import type { JobStatus, JobSummary, ListQuery, Period } from './api';

const DAY_MS = 86_400_000;

/** When `period` starts, from `now`: "today" from local midnight, as the engine counts it. */
export function periodStart(period: Period, now = Date.now()): number {
  if (period === 'today') {
    const d = new Date(now);
    return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  }
  return now - (period === 'week' ? 7 : 30) * DAY_MS;
}

/** A job's position in keyset order: newest first, then id descending. */
export type JobKey = readonly [created_at: number, id: string];

export function keyOf(job: Pick<JobSummary, 'created_at' | 'id'>): JobKey {
  return [job.created_at, job.id];
}

/** Negative when `a` comes before `b` in the gallery (newer first), as the engine orders. */
export function compareKeys(a: JobKey, b: JobKey): number {
  if (a[0] !== b[0]) return b[0] - a[0];
  return a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0;
}

/** What the gallery is filtered by (the part of ListQuery the user picks). */
export type GalleryFilter = {
  status?: JobStatus;
  provider?: string;
  model?: string;
  /** Created at or after this time (ms): a smart board saved before periods. */
  since?: number;
  /** Created in this period, counted from now. */
  period?: Period;
  favorite?: boolean;
  search?: string;
  /** Only jobs with an image on this (plain) board. */
  board?: number;
};

export function toQuery(filter: GalleryFilter): ListQuery {
  const query: ListQuery = {};
  if (filter.status) query.status = filter.status;
  if (filter.provider) query.provider = filter.provider;
  if (filter.model) query.model = filter.model;
  if (filter.since !== undefined) query.created_since = filter.since;
  if (filter.period) query.period = filter.period;
  if (filter.favorite) query.favorite = true;
  const search = filter.search?.trim();
  if (search) query.search = search;
  if (filter.board !== undefined) query.board = filter.board;
  return query;
}

/** A smart board's saved query as the gallery filter it stands for. */
export function fromQuery(query: ListQuery): GalleryFilter {
  const filter: GalleryFilter = {};
  if (query.status) filter.status = query.status;
  if (query.provider) filter.provider = query.provider;
  if (query.model) filter.model = query.model;
  if (query.created_since !== undefined) filter.since = query.created_since;
  if (query.period) filter.period = query.period;
  if (query.favorite) filter.favorite = true;
  if (query.search) filter.search = query.search;
  return filter;
}

/**
 * Words of a prompt, lowercased, split like a simple full-text tokenizer:
 * letters and digits are word characters, everything else separates.
 */
function words(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/**
 * Client-side stand-in for the engine's prompt search (every typed word must
 * start some word of the prompt). Used only to decide whether a job that
 * appears through an event belongs in a search result already on screen.
 */
export function matchesSearch(prompt: string, search: string | undefined): boolean {
  const wanted = words(search ?? '');
  if (wanted.length === 0) return true;
  const have = words(prompt);
  return wanted.every((w) => have.some((h) => h.startsWith(w)));
}

/** Whether a job belongs in the gallery under `filter`. */
export function matchesFilter(job: JobSummary, filter: GalleryFilter, withSearch = true): boolean {
  // Deleted (Undo can bring it back): in no view.
  if (job.deleted) return false;
  // Board membership is not on the job: board rows come from the engine.
  if (filter.board !== undefined && withSearch) return false;
  if (filter.status && job.status !== filter.status) return false;
  if (filter.provider && job.provider !== filter.provider) return false;
  if (filter.model && job.model !== filter.model) return false;
  if (filter.since !== undefined && job.created_at < filter.since) return false;
  if (filter.period && job.created_at < periodStart(filter.period)) return false;
  if (filter.favorite && !job.favorite) return false;
  if (withSearch && !matchesSearch(job.prompt, filter.search)) return false;
  return true;
}

export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'submitting', 'processing', 'saving'];

export function isActive(status: JobStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export function isTerminal(status: JobStatus): boolean {
  return !isActive(status);
}

/**
 * Queue positions (1 = next to run) of queued jobs, oldest first. Held jobs
 * wait for the user, not for a slot, so they have no position.
 */
export function queuePositions(jobs: Iterable<JobSummary>): Map<string, number> {
  const queued = [...jobs].filter((j) => j.status === 'queued' && !j.held);
  // The engine's order: moved to the front first, then oldest.
  queued.sort(
    (a, b) => b.priority - a.priority || a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return new Map(queued.map((j, i) => [j.id, i + 1]));
}

/**
 * Index at which `key` goes into `sorted` (gallery order) to keep it sorted.
 * `keyAt(i)` gives the key of the i-th element.
 */
export function insertionIndex(length: number, keyAt: (i: number) => JobKey, key: JobKey): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keyAt(mid), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
