import { describe, expect, it } from 'vitest';
import type { JobSummary } from './api';
import {
  compareKeys,
  insertionIndex,
  keyOf,
  matchesFilter,
  matchesSearch,
  queuePositions,
  toQuery,
  type JobKey,
} from './order';

function job(id: string, created_at: number, extra: Partial<JobSummary> = {}): JobSummary {
  return {
    id,
    request_id: id,
    status: 'queued',
    provider: 'offline',
    model: 'm',
    prompt: 'A lighthouse at dusk',
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
    seq: 1,
    favorite: false,
    thumb_path: null,
    asset_count: 0,
    reference_ids: [],
    ...extra,
  };
}

describe('keyset order', () => {
  it('puts newer first, then the larger id, like the engine', () => {
    const keys: JobKey[] = [
      [1, 'a'],
      [2, 'a'],
      [2, 'b'],
      [3, 'a'],
    ];
    expect([...keys].sort(compareKeys)).toEqual([
      [3, 'a'],
      [2, 'b'],
      [2, 'a'],
      [1, 'a'],
    ]);
    expect(compareKeys([5, 'x'], [5, 'x'])).toBe(0);
  });

  it('finds where a key goes into a sorted list', () => {
    const sorted: JobKey[] = [
      [30, 'c'],
      [20, 'b'],
      [10, 'a'],
    ];
    const at = (k: JobKey) => insertionIndex(sorted.length, (i) => sorted[i], k);
    expect(at([40, 'z'])).toBe(0);
    expect(at([25, 'q'])).toBe(1);
    expect(at([20, 'c'])).toBe(1);
    expect(at([20, 'a'])).toBe(2);
    expect(at([5, 'a'])).toBe(3);
  });

  it('takes the key from a job', () => {
    expect(keyOf(job('j', 7))).toEqual([7, 'j']);
  });
});

describe('filters', () => {
  it('matches search words as prefixes of prompt words, any case', () => {
    expect(matchesSearch('A Lighthouse at dusk', 'light')).toBe(true);
    expect(matchesSearch('A Lighthouse at dusk', 'dusk light')).toBe(true);
    expect(matchesSearch('A Lighthouse at dusk', 'house')).toBe(false);
    expect(matchesSearch('A Lighthouse at dusk', 'dusk sea')).toBe(false);
    expect(matchesSearch('Café au lait', 'CAF')).toBe(true);
    expect(matchesSearch('anything', '   ')).toBe(true);
    expect(matchesSearch('anything', undefined)).toBe(true);
  });

  it('checks status, provider, favorite and search', () => {
    const j = job('a', 1, { status: 'completed', favorite: true });
    expect(matchesFilter(j, {})).toBe(true);
    expect(matchesFilter(j, { status: 'completed', provider: 'offline', favorite: true })).toBe(true);
    expect(matchesFilter(j, { status: 'failed' })).toBe(false);
    expect(matchesFilter(j, { provider: 'other' })).toBe(false);
    expect(matchesFilter({ ...j, favorite: false }, { favorite: true })).toBe(false);
    expect(matchesFilter(j, { search: 'ocean' })).toBe(false);
    expect(matchesFilter(j, { search: 'ocean' }, false)).toBe(true);
  });

  it('builds a list query with only the keys that are set', () => {
    expect(toQuery({})).toEqual({});
    expect(toQuery({ status: 'failed', provider: 'offline', favorite: true, search: '  sea  ' })).toEqual({
      status: 'failed',
      provider: 'offline',
      favorite: true,
      search: 'sea',
    });
    expect(toQuery({ favorite: false, search: ' ' })).toEqual({});
  });
});

describe('queue positions', () => {
  it('numbers queued jobs oldest first, skipping others and held ones', () => {
    const positions = queuePositions([
      job('new', 300),
      job('running', 50, { status: 'processing' }),
      job('old', 100),
      job('held', 10, { held: true }),
      job('mid-b', 200),
      job('mid-a', 200),
    ]);
    expect([...positions]).toEqual([
      ['old', 1],
      ['mid-a', 2],
      ['mid-b', 3],
      ['new', 4],
    ]);
  });
});
