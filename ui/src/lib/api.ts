// The one place the UI talks to the Tauri shell.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

// Types shared with the engine are generated from Rust (ts-rs, `cargo test`).
import type { JobSummary } from './bindings/JobSummary';
import type { NewJob } from './bindings/NewJob';
export type { JobStatus } from './bindings/JobStatus';
export type { JobSummary };

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
  // The command takes the engine's `NewJob` as one `request` object (snake_case
  // fields); optional fields left out take the engine's defaults.
  const request: NewJob = { request_id: requestId, prompt, width: 1024, height: 1024, count: 1 };
  return invoke<JobSummary>('create_job', { request });
}

export function listJobs(): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('list_jobs');
}

export function onJobEvent(handler: (job: JobSummary) => void): Promise<UnlistenFn> {
  return listen<JobSummary>(JOB_EVENT, (event) => handler(event.payload));
}
