// One store of jobs: filled by a first page load, then kept current by events.
// Every event carries a monotonically increasing `seq`; a gap means we missed
// something, so we refetch instead of guessing.
import { errorMessage, listJobs, onJobEvent, type JobSummary } from './api';

function createdAtMs(job: JobSummary): number {
  const value = typeof job.created_at === 'number' ? job.created_at : Date.parse(job.created_at);
  return Number.isFinite(value) ? value : 0;
}

export class JobStore {
  #byId = $state<Record<string, JobSummary>>({});
  #lastEventSeq: number | null = null;
  #unlisten: (() => void) | null = null;

  /** null until the first load has finished. */
  ready = $state<boolean | null>(null);
  error = $state<string | null>(null);

  jobs = $derived(
    Object.values(this.#byId).sort((a, b) => createdAtMs(b) - createdAtMs(a) || b.seq - a.seq),
  );

  /** Keep whichever copy of a job is newer. */
  upsert(job: JobSummary): void {
    const known = this.#byId[job.id];
    if (!known || job.seq >= known.seq) {
      this.#byId[job.id] = job;
    }
  }

  async refresh(): Promise<void> {
    try {
      const jobs = await listJobs();
      for (const job of jobs) this.upsert(job);
      this.ready = true;
      this.error = null;
    } catch (err) {
      this.ready = false;
      this.error = errorMessage(err);
    }
  }

  async start(): Promise<void> {
    // Subscribe before the first load so nothing falls between the two.
    try {
      this.#unlisten = await onJobEvent((job) => this.#onEvent(job));
    } catch (err) {
      this.error = errorMessage(err);
    }
    await this.refresh();
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = null;
  }

  #onEvent(job: JobSummary): void {
    const last = this.#lastEventSeq;
    this.#lastEventSeq = last === null ? job.seq : Math.max(last, job.seq);
    this.upsert(job);
    if (last !== null && job.seq > last + 1) {
      void this.refresh();
    }
  }
}
