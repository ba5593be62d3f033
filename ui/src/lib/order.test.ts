import { describe, expect, it } from 'vitest';
import type { JobSummary } from './api';
import { testJob } from './test-jobs';
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
  return testJob(id, { prompt: 'A lighthouse at dusk', model: 'm', created_at, ...extra });
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
    expect(matchesFilter(j, { model: 'm' })).toBe(true);
    expect(matchesFilter(j, { model: 'other' })).toBe(false);
    expect(matchesFilter(j, { since: 1 })).toBe(true);
    expect(matchesFilter(j, { since: 2 })).toBe(false);
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

  it('puts jobs moved to the front first, the latest move leading', () => {
    const positions = queuePositions([
      job('old', 100),
      job('moved-first', 300, { priority: 1 }),
      job('moved-last', 200, { priority: 2 }),
    ]);
    expect([...positions]).toEqual([
      ['moved-last', 1],
      ['moved-first', 2],
      ['old', 3],
    ]);
  });
});
