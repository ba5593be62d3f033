// What the buttons do: call the shell, feed the answer into the store, and
// say what happened.
import {
  cancelJob,
  copyImage,
  createJob,
  deleteImage,
  deleteJobs,
  referenceFromImage,
  setImageFavorite,
  undoDelete,
  undoDeleteImage,
  errorMessage,
  openPath,
  retryJob,
  revealPath,
  setFavorite,
  type JobSummary,
  type NewJob,
} from './api';
import type { Catalog } from './catalog.svelte';
import { draft } from './draft.svelte';
import type { JobStore } from './jobs.svelte';
import { notices } from './notices.svelte';
import { clampCount, fitSize } from './sizes';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export async function retryJobs(store: JobStore, ids: string[]): Promise<void> {
  const results = await Promise.allSettled(ids.map((id) => retryJob(id)));
  const failed: string[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') store.upsert(r.value);
    else failed.push(errorMessage(r.reason));
  }
  if (failed.length > 0) {
    notices.error(
      ids.length === 1 ? `Could not retry: ${failed[0]}` : `${plural(failed.length, 'job')} could not be retried: ${failed[0]}`,
    );
  } else if (ids.length > 1) {
    notices.push(`Retrying ${plural(ids.length, 'job')}`);
  }
}

export async function favoriteJobs(store: JobStore, ids: string[], favorite: boolean): Promise<void> {
  try {
    for (const job of await setFavorite(ids, favorite)) store.upsert(job);
  } catch (err) {
    notices.error(`Could not update favorites: ${errorMessage(err)}`);
  }
}

/**
 * Delete jobs and their files (to the trash), offering Undo; returns the
 * ids deleted.
 */
export async function deleteJobsAndFiles(store: JobStore, ids: string[]): Promise<string[]> {
  try {
    const deleted = await deleteJobs(ids);
    store.remove(deleted);
    const kept = ids.length - deleted.length;
    if (kept > 0) {
      notices.error(`${plural(kept, 'job')} not deleted: a running job must be canceled first.`);
    } else if (deleted.length > 0) {
      notices.offer(`Deleted ${plural(deleted.length, 'job')} (files moved to the trash)`, {
        label: 'Undo',
        run: () => void undoDeleteJobs(store, deleted),
      });
    }
    return deleted;
  } catch (err) {
    notices.error(`Could not delete: ${errorMessage(err)}`);
    return [];
  }
}

export async function undoDeleteJobs(store: JobStore, ids: string[]): Promise<void> {
  try {
    const restored = await undoDelete(ids);
    for (const job of restored) store.upsert(job);
    notices.push(`Restored ${plural(restored.length, 'job')} and ${restored.length === 1 ? 'its' : 'their'} files`);
  } catch (err) {
    notices.error(`Could not undo the delete: ${errorMessage(err)}`);
  }
}

/** Delete one image of a job (a job's last image deletes the job), offering Undo. */
export async function deleteOneImage(store: JobStore, job: JobSummary, index: number): Promise<JobSummary | null> {
  try {
    const now = await deleteImage(job.id, index);
    store.upsert(now);
    if (now.deleted) {
      store.remove([now.id]);
      notices.offer('Deleted the image and its job (file moved to the trash)', {
        label: 'Undo',
        run: () => void undoDeleteJobs(store, [now.id]),
      });
    } else {
      notices.offer(`Deleted image ${index + 1} (file moved to the trash)`, {
        label: 'Undo',
        run: () => void undoDeleteOneImage(store, job.id, index),
      });
    }
    return now;
  } catch (err) {
    notices.error(`Could not delete the image: ${errorMessage(err)}`);
    return null;
  }
}

export async function undoDeleteOneImage(store: JobStore, id: string, index: number): Promise<void> {
  try {
    store.upsert(await undoDeleteImage(id, index));
    notices.push(`Restored image ${index + 1}`);
  } catch (err) {
    notices.error(`Could not undo the delete: ${errorMessage(err)}`);
  }
}

export async function favoriteImage(store: JobStore, id: string, index: number, favorite: boolean): Promise<void> {
  try {
    store.upsert(await setImageFavorite(id, index, favorite));
  } catch (err) {
    notices.error(`Could not update favorites: ${errorMessage(err)}`);
  }
}

export async function copyImageToClipboard(id: string, index: number): Promise<void> {
  try {
    await copyImage(id, index);
    notices.push('Image copied');
  } catch (err) {
    notices.error(`Could not copy the image: ${errorMessage(err)}`);
  }
}

/** Start a new job from a gallery image: it becomes a reference in the generate panel. */
export async function useAsReference(id: string, index: number, previewUrl: string): Promise<void> {
  try {
    const ref = await referenceFromImage(id, index);
    draft.addReference({ id: ref.id, name: `Image ${index + 1}`, url: previewUrl, width: ref.width, height: ref.height });
    notices.push('Added as a reference in the generate panel');
  } catch (err) {
    notices.error(`Could not use the image as a reference: ${errorMessage(err)}`);
  }
}

export async function cancel(store: JobStore, id: string): Promise<void> {
  try {
    store.upsert(await cancelJob(id));
  } catch (err) {
    notices.error(`Could not cancel: ${errorMessage(err)}`);
  }
}

/**
 * Generate again (a new request): exactly, with the same seed, on the same
 * provider or another; or (`vary`) the same settings with a new seed.
 */
export async function rerun(
  store: JobStore,
  catalog: Catalog,
  job: JobSummary,
  { providerId, vary = false }: { providerId?: string; vary?: boolean } = {},
): Promise<JobSummary | null> {
  const request: NewJob = {
    request_id: crypto.randomUUID(),
    prompt: job.prompt,
    width: job.width,
    height: job.height,
    count: job.count,
  };
  // Without a seed the engine picks a new one.
  if (!vary) request.seed = job.seed;
  if (job.negative_prompt) request.negative_prompt = job.negative_prompt;
  if (providerId && providerId !== job.provider) {
    const provider = catalog.provider(providerId);
    request.provider = providerId;
    request.model = provider?.capabilities.default_model;
    // Keep the aspect, but at a size and count the other model accepts,
    // with its default settings.
    const model = catalog.model(providerId, request.model);
    if (model) {
      const fitted = fitSize(model.sizes, job.width, job.height);
      if (fitted) {
        request.width = fitted.width;
        request.height = fitted.height;
      }
      request.count = clampCount(job.count, model.max_count);
      if (!model.negative_prompt) delete request.negative_prompt;
    }
  } else {
    request.provider = job.provider;
    request.model = job.model;
    // The same model takes the same reference images and settings.
    if (job.reference_ids.length > 0) request.reference_ids = job.reference_ids;
    if (Object.keys(job.params).length > 0) request.params = job.params;
  }
  try {
    const created = await createJob(request);
    store.upsert(created);
    const on = catalog.providerName(created.provider);
    notices.push(vary ? `Queued a variation on ${on}` : `Queued again on ${on}`);
    return created;
  } catch (err) {
    notices.error(`Could not re-run: ${errorMessage(err)}`);
    return null;
  }
}

export async function reveal(path: string): Promise<void> {
  try {
    await revealPath(path);
  } catch (err) {
    notices.error(`Could not show the file: ${errorMessage(err)}`);
  }
}

export async function openWithSystem(path: string): Promise<void> {
  try {
    await openPath(path);
  } catch (err) {
    notices.error(`Could not open the file: ${errorMessage(err)}`);
  }
}

export async function copyText(text: string, what: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    notices.push(`${what} copied`);
  } catch (err) {
    notices.error(`Could not copy: ${errorMessage(err)}`);
  }
}
