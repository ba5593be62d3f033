// The one place the UI talks to the Tauri shell.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type JobStatus =
  | 'queued'
  | 'submitting'
  | 'processing'
  | 'saving'
  | 'completed'
  | 'failed'
  | 'canceled'
  | (string & {});

/** A job as the shell sends it, from `list_jobs` and in every `job-event`. */
export interface JobSummary {
  id: string;
  status: JobStatus;
  prompt: string;
  created_at: string | number;
  /** Monotonically increasing event sequence number of this job's latest change. */
  seq: number;
}

export const JOB_EVENT = 'job-event';

/** Turns whatever a failed invoke rejected with into a message for people. */
export function errorMessage(err: unknown): string {
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) {
    const message = (err as { message: unknown }).message;
    if (typeof message === 'string') return message;
  }
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

export function createJob(prompt: string, requestId: string): Promise<JobSummary> {
  // The command takes one `request` object whose fields are snake_case, as
  // the engine's types are; unset fields take the engine's defaults.
  return invoke<JobSummary>('create_job', { request: { prompt, request_id: requestId } });
}

export function listJobs(): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('list_jobs');
}

export function onJobEvent(handler: (job: JobSummary) => void): Promise<UnlistenFn> {
  return listen<JobSummary>(JOB_EVENT, (event) => handler(event.payload));
}
