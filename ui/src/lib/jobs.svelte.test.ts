import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobSummary } from './api';

// The store talks to the shell only through ./api; stand in for it here.
const api = vi.hoisted(() => ({
  listJobs: vi.fn<() => Promise<JobSummary[]>>(),
  onJobEvent: vi.fn<(h: (job: JobSummary) => void) => Promise<() => void>>(),
}));
vi.mock('./api', () => ({
  listJobs: api.listJobs,
  onJobEvent: api.onJobEvent,
  errorMessage: (e: unknown) => (e instanceof Error ? e.message : String(e)),
}));

const { JobStore } = await import('./jobs.svelte');

function job(id: string, seq: number, status: JobSummary['status'], created_at = 1000): JobSummary {
  return {
    id,
    request_id: `r-${id}`,
    status,
    provider: 'offline',
    model: 'easel-landscape-1',
    prompt: `prompt ${id}`,
    negative_prompt: null,
    width: 64,
    height: 64,
    count: 1,
    seed: 1,
    created_at,
    updated_at: created_at,
    attempts: 0,
    max_attempts: 3,
    run: 1,
    progress: null,
    next_run_at: created_at,
    held: false,
    crash_count: 0,
    error_code: null,
    error_message: null,
    estimated_cost_micros: 0,
    seq,
  };
}

let emit: (job: JobSummary) => void = () => {};

beforeEach(() => {
  api.listJobs.mockReset();
  api.onJobEvent.mockReset();
  api.onJobEvent.mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
});

describe('JobStore', () => {
  it('loads the first page newest first', async () => {
    api.listJobs.mockResolvedValue([job('a', 1, 'queued', 1000), job('b', 2, 'queued', 2000)]);
    const store = new JobStore();
    await store.start();
    expect(store.ready).toBe(true);
    expect(store.jobs.map((j) => j.id)).toEqual(['b', 'a']);
  });

  it('applies events in order', async () => {
    api.listJobs.mockResolvedValue([job('a', 1, 'queued')]);
    const store = new JobStore();
    await store.start();
    emit(job('a', 2, 'processing'));
    emit(job('a', 3, 'completed'));
    expect(store.jobs[0].status).toBe('completed');
    emit(job('c', 4, 'queued', 3000));
    expect(store.jobs.map((j) => j.id)).toEqual(['c', 'a']);
  });

  it('ignores duplicate and stale events', async () => {
    api.listJobs.mockResolvedValue([]);
    const store = new JobStore();
    await store.start();
    emit(job('a', 5, 'completed'));
    emit(job('a', 5, 'completed'));
    emit(job('a', 3, 'processing'));
    expect(store.jobs).toHaveLength(1);
    expect(store.jobs[0].status).toBe('completed');
  });

  it('keeps an event that raced the first load', async () => {
    let resolveList: (jobs: JobSummary[]) => void = () => {};
    api.listJobs.mockReturnValue(new Promise((r) => (resolveList = r)));
    const store = new JobStore();
    const started = store.start();
    await Promise.resolve();
    emit(job('a', 7, 'completed'));
    resolveList([job('a', 6, 'saving')]);
    await started;
    expect(store.jobs[0].status).toBe('completed');
  });

  it('reports a failed load', async () => {
    api.listJobs.mockRejectedValue(new Error('database is locked'));
    const store = new JobStore();
    await store.start();
    expect(store.ready).toBe(false);
    expect(store.error).toBe('database is locked');
  });
});
