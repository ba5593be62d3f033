import { describe, expect, it } from 'vitest';
import {
  dollarsToMicros,
  estimateMicros,
  formatBytes,
  formatCost,
  formatDuration,
  formatElapsed,
  formatUsd,
  microsToDollarsText,
  retryNote,
} from './format';

describe('money', () => {
  it('estimates price per image times count', () => {
    expect(estimateMicros(40_000, 4)).toBe(160_000);
    expect(estimateMicros(0, 8)).toBe(0);
  });

  it('shows dollars, and "free" for nothing', () => {
    expect(formatCost(0)).toBe('free');
    expect(formatCost(160_000)).toBe('$0.16');
    expect(formatCost(2_500)).toBe('$0.0025');
    expect(formatUsd(25_000_000)).toBe('$25.00');
    expect(formatUsd(1_234_567)).toBe('$1.23');
  });

  it('reads dollars typed by a person', () => {
    expect(dollarsToMicros('')).toBeNull();
    expect(dollarsToMicros(' 25 ')).toBe(25_000_000);
    expect(dollarsToMicros('$12.50')).toBe(12_500_000);
    expect(dollarsToMicros('0.000001')).toBe(1);
    expect(dollarsToMicros('-3')).toBeNaN();
    expect(dollarsToMicros('ten')).toBeNaN();
    expect(microsToDollarsText(null)).toBe('');
    expect(microsToDollarsText(12_500_000)).toBe('12.5');
  });
});

describe('time and size', () => {
  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(2_400)).toBe('2.4 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(7_380_000)).toBe('2 h 03 min');
    expect(formatDuration(-1)).toBe('–');
  });

  it('formats a running clock', () => {
    expect(formatElapsed(7_000)).toBe('0:07');
    expect(formatElapsed(750_000)).toBe('12:30');
    expect(formatElapsed(3_723_000)).toBe('1:02:03');
    expect(formatElapsed(-5)).toBe('0:00');
  });

  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(180_000)).toBe('176 KB');
    expect(formatBytes(2_500_000)).toBe('2.4 MB');
  });
});

describe('retry note', () => {
  const at = new Date(2026, 10, 30, 14, 2).getTime();
  it('says why a requeued job waits and until when', () => {
    const note = retryNote({ status: 'queued', error_code: 'rate_limited', next_run_at: at }, at - 60_000);
    expect(note).toMatch(/^Rate limited: retrying at /);
    expect(note).toContain(new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }).format(new Date(at)));
    expect(retryNote({ status: 'queued', error_code: 'provider_unavailable', next_run_at: at }, 0)).toMatch(
      /^Provider unavailable: /,
    );
    expect(retryNote({ status: 'queued', error_code: 'weird', next_run_at: at }, 0)).toMatch(/^Attempt failed: /);
  });
  it('is silent for a fresh job, a due retry or another status', () => {
    expect(retryNote({ status: 'queued', error_code: null, next_run_at: at }, 0)).toBeNull();
    expect(retryNote({ status: 'queued', error_code: 'rate_limited', next_run_at: at }, at)).toBeNull();
    expect(retryNote({ status: 'processing', error_code: 'rate_limited', next_run_at: at }, 0)).toBeNull();
  });
});
