// A job summary for unit tests: every field filled, `extra` overrides.
import type { JobSummary } from './api';

export function testJob(id: string, extra: Partial<JobSummary> = {}): JobSummary {
  const created_at = extra.created_at ?? 1000;
  return {
    id,
    request_id: `r-${id}`,
    status: 'queued',
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
    seq: 1,
    favorite: false,
    thumb_path: null,
    asset_count: 0,
    lease_epoch: 0,
    reference_ids: [],
    params: {},
    queue_position: null,
    provider_message: null,
    priority: 0,
    deleted: false,
    image_path: null,
    ...extra,
  };
}
