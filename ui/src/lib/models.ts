// Models a provider takes by id beyond its catalog (Replicate runs any
// `owner/name`, optionally pinned to a `:version`).
import type { ModelInfo } from './api';

const MODEL_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\/[A-Za-z0-9_-][A-Za-z0-9._-]*(:[0-9a-f]+)?$/;

/** The rules for a typed model id, or undefined when it is not an id of that form. */
export function typedModel(other: ModelInfo | null | undefined, id: string): ModelInfo | undefined {
  const trimmed = id.trim();
  if (!other || trimmed.length > 200 || !MODEL_ID.test(trimmed)) return undefined;
  return { ...other, id: trimmed, name: trimmed };
}

/** What to say about a model's announced shutdown date (YYYY-MM-DD), or null. */
export function shutdownNote(model: string, date: string | undefined, now: number): string | null {
  if (!date) return null;
  const end = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(end)) return null;
  const days = Math.ceil((end - now) / 86_400_000);
  if (days <= 0) return `${model} was shut down on ${date}: choose another model.`;
  return `${model} shuts down on ${date} (in ${days} day${days === 1 ? '' : 's'}).`;
}
