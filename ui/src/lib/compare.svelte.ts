// What the compare view shows: 2 to 4 images, each a job's image by index.
// Opened from a comparison group (one prompt sent to several models), from
// the selection (several jobs, or one job's several images) or the viewer.
import { errorMessage, groupJobs, type JobSummary } from './api';
import { notices } from './notices.svelte';

export const MAX_COMPARE = 4;

export type CompareItem = { id: string; index: number };

class CompareState {
  items = $state.raw<CompareItem[] | null>(null);

  open(items: CompareItem[]): void {
    this.items = items.slice(0, MAX_COMPARE);
  }

  close(): void {
    this.items = null;
  }
}

export const compare = new CompareState();

/** What a selection of jobs compares: their first images, or one job's images. */
export function itemsForSelection(jobs: JobSummary[]): CompareItem[] | string {
  if (jobs.length === 1) {
    const n = jobs[0].status === 'completed' ? jobs[0].asset_count : 0;
    if (n < 2) return 'Select 2 to 4 images to compare (or one job with several images).';
    return Array.from({ length: Math.min(n, MAX_COMPARE) }, (_, index) => ({ id: jobs[0].id, index }));
  }
  if (jobs.length < 2 || jobs.length > MAX_COMPARE) return `Select 2 to ${MAX_COMPARE} images to compare.`;
  return jobs.map((j) => ({ id: j.id, index: 0 }));
}

/** Open the comparison a job belongs to: every job sent with it. */
export async function compareGroup(groupId: string): Promise<void> {
  try {
    const jobs = await groupJobs(groupId);
    if (jobs.length < 2) {
      notices.error('The other jobs of this comparison were deleted: nothing to compare it with.');
      return;
    }
    compare.open(jobs.map((j) => ({ id: j.id, index: 0 })));
  } catch (err) {
    notices.error(`Could not open the comparison: ${errorMessage(err)}`);
  }
}
