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
