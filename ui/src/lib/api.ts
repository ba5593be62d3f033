// The one place the UI talks to the Tauri shell.
import { convertFileSrc, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

// Types shared with the engine are generated from Rust (ts-rs, `cargo test`).
import type { JobStatus } from './bindings/JobStatus';
import type { ListQuery as GenListQuery } from './bindings/ListQuery';
import type { NewJob } from './bindings/NewJob';
import type { AppSettings } from './bindings/AppSettings';
import type { Asset } from './bindings/Asset';
import type { Attempt } from './bindings/Attempt';
import type { Capabilities } from './bindings/Capabilities';
import type { ErrorPayload } from './bindings/ErrorPayload';
import type { JobDetail } from './bindings/JobDetail';
import type { JobEvent } from './bindings/JobEvent';
import type { JobSummary } from './bindings/JobSummary';
import type { KeyCheck } from './bindings/KeyCheck';
import type { KeyState } from './bindings/KeyState';
import type { ModelInfo } from './bindings/ModelInfo';
import type { ParamSpec } from './bindings/ParamSpec';
import type { ParamValue } from './bindings/ParamValue';
import type { SizeRule } from './bindings/SizeRule';
import type { Board } from './bindings/Board';
import type { ImageRef } from './bindings/ImageRef';
import type { PromptEntry } from './bindings/PromptEntry';
import type { PromptHistory } from './bindings/PromptHistory';
import type { ProviderInfo } from './bindings/ProviderInfo';
import type { QueueView } from './bindings/QueueView';
import type { ReferenceImage } from './bindings/ReferenceImage';
import type { StartupReport } from './bindings/StartupReport';
import type { TimelineEntry } from './bindings/TimelineEntry';
import type { WebhookStatus } from './bindings/WebhookStatus';
import type { Period } from './bindings/Period';
export type {
  Period,
  WebhookStatus,
  AppSettings,
  Asset,
  Attempt,
  Capabilities,
  ErrorPayload,
  JobDetail,
  JobEvent,
  JobSummary,
  KeyCheck,
  KeyState,
  ModelInfo,
  ParamSpec,
  ParamValue,
  SizeRule,
  Board,
  ImageRef,
  PromptEntry,
  PromptHistory,
  ProviderInfo,
  QueueView,
  ReferenceImage,
  StartupReport,
  TimelineEntry,
  JobStatus,
  NewJob,
};

/** Every key optional; unset keys are left out of the call. */
export type ListQuery = {
  [K in keyof GenListQuery]?: Exclude<GenListQuery[K], null | undefined>;
};

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

/** The ErrorPayload kind of a rejected invoke, when it has one. */
export function errorKind(err: unknown): string | null {
  if (err && typeof err === 'object' && 'kind' in err) {
    const kind = (err as { kind: unknown }).kind;
    if (typeof kind === 'string') return kind;
  }
  return null;
}

export function createJob(request: NewJob): Promise<JobSummary> {
  return invoke<JobSummary>('create_job', { request });
}

/** One prompt to several models: one job each, grouped to compare. */
export function createGroup(groupId: string, requests: NewJob[]): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('create_group', { groupId, requests });
}

/** The jobs of one comparison, oldest first. */
export function groupJobs(groupId: string): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('group_jobs', { groupId });
}

/** Check and store a reference image; the file's bytes are the raw body. */
export function importReference(bytes: Uint8Array): Promise<ReferenceImage> {
  return invoke<ReferenceImage>('import_reference', bytes);
}

export function listJobs(query: ListQuery = {}): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('list_jobs', { query });
}

export function getJob(id: string): Promise<JobDetail> {
  return invoke<JobDetail>('get_job', { id });
}

export function cancelJob(id: string): Promise<JobSummary> {
  return invoke<JobSummary>('cancel_job', { id });
}

export function retryJob(id: string): Promise<JobSummary> {
  return invoke<JobSummary>('retry_job', { id });
}

export function getQueue(): Promise<QueueView> {
  return invoke<QueueView>('get_queue');
}

export function moveToFront(id: string): Promise<JobSummary> {
  return invoke<JobSummary>('move_to_front', { id });
}

export function setQueuePaused(paused: boolean): Promise<void> {
  return invoke<void>('set_queue_paused', { paused });
}

export function deleteJobs(ids: string[]): Promise<string[]> {
  return invoke<string[]>('delete_jobs', { ids });
}

/** Bring deleted jobs and their files back from the trash. */
export function undoDelete(ids: string[]): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('undo_delete', { ids });
}

/** Delete one image of a job (its file to the trash); the job as it is now. */
export function deleteImage(id: string, index: number): Promise<JobSummary> {
  return invoke<JobSummary>('delete_image', { id, index });
}

export function undoDeleteImage(id: string, index: number): Promise<JobSummary> {
  return invoke<JobSummary>('undo_delete_image', { id, index });
}

export function setImageFavorite(id: string, index: number, favorite: boolean): Promise<JobSummary> {
  return invoke<JobSummary>('set_image_favorite', { id, index, favorite });
}

/** Store one of a job's images as a reference image for a new job. */
export function referenceFromImage(id: string, index: number): Promise<ReferenceImage> {
  return invoke<ReferenceImage>('reference_from_image', { id, index });
}

/** Put one of a job's images on the clipboard (as PNG for other apps). */
export function copyImage(id: string, index: number): Promise<void> {
  return invoke<void>('copy_image', { id, index });
}

export function listBoards(): Promise<Board[]> {
  return invoke<Board[]>('list_boards');
}

/** A board; with `filter`, a smart board showing what matches it. */
export function createBoard(name: string, filter: ListQuery | null): Promise<Board> {
  return invoke<Board>('create_board', { name, filter });
}

export function renameBoard(id: number, name: string): Promise<Board> {
  return invoke<Board>('rename_board', { id, name });
}

export function deleteBoard(id: number): Promise<void> {
  return invoke<void>('delete_board', { id });
}

export function addToBoard(id: number, images: ImageRef[]): Promise<Board> {
  return invoke<Board>('add_to_board', { id, images });
}

export function removeFromBoard(id: number, images: ImageRef[]): Promise<Board> {
  return invoke<Board>('remove_from_board', { id, images });
}

export function imagesOnBoard(id: number, jobId: string): Promise<number[]> {
  return invoke<number[]>('images_on_board', { id, jobId });
}

/** Starred and recent prompts, narrowed by `search`. */
export function promptHistory(search: string | null, limit: number): Promise<PromptHistory> {
  return invoke<PromptHistory>('prompt_history', { search, limit });
}

export function setPromptFavorite(prompt: string, negativePrompt: string | null, favorite: boolean): Promise<void> {
  return invoke<void>('set_prompt_favorite', { prompt, negativePrompt, favorite });
}

export function setFavorite(ids: string[], favorite: boolean): Promise<JobSummary[]> {
  return invoke<JobSummary[]>('set_favorite', { ids, favorite });
}

export function listProviders(): Promise<ProviderInfo[]> {
  return invoke<ProviderInfo[]>('list_providers');
}

/** The key goes to the OS keychain; the reply only says whether one is stored. */
export function setApiKey(provider: string, key: string): Promise<ProviderInfo> {
  return invoke<ProviderInfo>('set_api_key', { provider, key });
}

export function deleteApiKey(provider: string): Promise<ProviderInfo> {
  return invoke<ProviderInfo>('delete_api_key', { provider });
}

/** Tests `key` (not stored) or, when null, the stored key. */
export function testApiKey(provider: string, key: string | null): Promise<KeyCheck> {
  return invoke<KeyCheck>('test_api_key', { provider, key });
}

/** Why the engine could not start (then the window shows only this). */
export function startupFailure(): Promise<ErrorPayload | null> {
  return invoke<ErrorPayload | null>('startup_failure');
}

/** The webhook receiver: where it listens and the last delivery. */
export function webhookStatus(): Promise<WebhookStatus> {
  return invoke<WebhookStatus>('webhook_status');
}

export function startupReport(): Promise<StartupReport> {
  return invoke<StartupReport>('startup_report');
}

export function getSettings(): Promise<AppSettings> {
  return invoke<AppSettings>('get_settings');
}

export function saveSettings(settings: AppSettings): Promise<AppSettings> {
  return invoke<AppSettings>('save_settings', { settings });
}

/** The system folder picker; `null` when the user dismisses it. */
export function pickFolder(start: string | null): Promise<string | null> {
  return invoke<string | null>('pick_folder', { start });
}

export function revealPath(path: string): Promise<void> {
  return invoke<void>('reveal_path', { path });
}

export function openPath(path: string): Promise<void> {
  return invoke<void>('open_path', { path });
}

/** A stored image as a URL of the app's `easel-image:` scheme, which serves
 * only image files in the library's dated folders and the thumbnail cache. */
export function fileUrl(path: string): string {
  return convertFileSrc(path, 'easel-image');
}

export function onJobEvent(handler: (event: JobEvent) => void): Promise<UnlistenFn> {
  return listen<JobEvent>(JOB_EVENT, (event) => handler(event.payload));
}
