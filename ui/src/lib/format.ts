// Formatting for people: money, durations, sizes, statuses.
import type { JobStatus, JobSummary } from './api';

const usd = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const usdFine = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
});

/** Micro-dollars as dollars: "$0.04", "$0.0025" below a cent. */
export function formatUsd(micros: number): string {
  const dollars = micros / 1_000_000;
  return Math.abs(micros) > 0 && Math.abs(micros) < 10_000 ? usdFine.format(dollars) : usd.format(dollars);
}

/** A cost estimate: "free" when nothing is charged. */
export function formatCost(micros: number): string {
  return micros === 0 ? 'free' : formatUsd(micros);
}

/** The estimate shown before generating: price per image times count. */
export function estimateMicros(pricePerImageMicros: number, count: number): number {
  return pricePerImageMicros * count;
}

/** Dollars typed by a person to micro-dollars; null when empty, NaN when invalid. */
export function dollarsToMicros(text: string): number | null {
  const trimmed = text.trim().replace(/^\$/, '');
  if (trimmed === '') return null;
  if (!/^\d+(\.\d{0,6})?$/.test(trimmed)) return Number.NaN;
  return Math.round(Number(trimmed) * 1_000_000);
}

export function microsToDollarsText(micros: number | null): string {
  if (micros === null) return '';
  return String(micros / 1_000_000);
}

/** Milliseconds as "850 ms", "12.4 s", "3 min 05 s", "2 h 03 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const totalS = Math.floor(s);
  const min = Math.floor(totalS / 60);
  if (min < 60) return `${min} min ${String(totalS % 60).padStart(2, '0')} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/** A running clock: "0:07", "12:30", "1:02:03". */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

const STATUS_LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  submitting: 'Submitting',
  processing: 'Processing',
  saving: 'Saving',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
};

export function statusLabel(status: JobStatus): string {
  return STATUS_LABELS[status] ?? status;
}

export const STATUSES = Object.keys(STATUS_LABELS) as JobStatus[];

/** Why a held job waits for the user, as the engine recorded it. */
export function heldReason(job: Pick<JobSummary, 'error_message' | 'error_code'>): string {
  const why = job.error_message?.replace(/^held: /, '');
  if (why) return why.charAt(0).toUpperCase() + why.slice(1);
  return 'Stopped after repeated crashes';
}

const RETRY_LABELS: Record<string, string> = {
  rate_limited: 'Rate limited',
  provider_unavailable: 'Provider unavailable',
};
const clockTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** Why a queued job waits after a failed attempt, and until when ("Rate
 * limited: retrying at 14:02"); null for a job that has not failed yet or
 * whose retry is due. */
export function retryNote(
  job: Pick<JobSummary, 'status' | 'error_code' | 'next_run_at'>,
  now: number,
): string | null {
  if (job.status !== 'queued' || !job.error_code || job.next_run_at <= now) return null;
  const why = RETRY_LABELS[job.error_code] ?? 'Attempt failed';
  return `${why}: retrying at ${clockTime.format(new Date(job.next_run_at))}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function formatDateTime(ms: number): string {
  return Number.isFinite(ms) ? dateTime.format(new Date(ms)) : String(ms);
}

export function formatTime(ms: number): string {
  return Number.isFinite(ms) ? timeOnly.format(new Date(ms)) : String(ms);
}

/** "just now", "5 min ago", "3 h ago", else the date. */
export function formatAgo(ms: number, now: number): string {
  const diff = now - ms;
  if (diff < 45_000) return 'just now';
  if (diff < 3_600_000) return `${Math.round(diff / 60_000)} min ago`;
  if (diff < 86_400_000) return `${Math.round(diff / 3_600_000)} h ago`;
  return formatDateTime(ms);
}
