// One store of jobs: filled by a first page load, then kept current by events.
// Every summary carries the global `seq` of its latest change. The shell's
// bridge emits changes in `seq` order and coalesces a job's quick successive
// changes into one event, so gaps in `seq` are normal; the store keeps, per
// job, the copy with the highest `seq`, so an event that raced the first load
// can never roll a job back.
import { errorMessage, listJobs, onJobEvent, type JobSummary } from './api';

export class JobStore {
  #byId = $state<Record<string, JobSummary>>({});
  #unlisten: (() => void) | null = null;

  /** null until the first load has finished. */
  ready = $state<boolean | null>(null);
  error = $state<string | null>(null);

  jobs = $derived(
    Object.values(this.#byId).sort((a, b) => b.created_at - a.created_at || b.seq - a.seq),
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
      this.#unlisten = await onJobEvent((job) => this.upsert(job));
    } catch (err) {
      this.error = errorMessage(err);
    }
    await this.refresh();
  }

  stop(): void {
    this.#unlisten?.();
    this.#unlisten = null;
  }
}
