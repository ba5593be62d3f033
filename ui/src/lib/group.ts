// One prompt sent to several models: the panel's request adapted to each
// other model (its sizes, image count, settings and what it takes), so a
// comparison asks each model for the closest thing it can make.
import type { ModelInfo, NewJob } from './api';
import { paramsFor } from './params';
import { clampCount, fitSize } from './sizes';

export type Request = Omit<NewJob, 'request_id'>;

/** The panel's request for `model` of `providerId`, or why it cannot take it. */
export function requestFor(base: Request, providerId: string, model: ModelInfo): Request | string {
  const size = fitSize(model.sizes, base.width, base.height);
  if (!size) return `${model.name} has no size close to ${base.width}×${base.height}.`;
  const out: Request = {
    prompt: base.prompt,
    provider: providerId,
    model: model.id,
    width: size.width,
    height: size.height,
    count: clampCount(base.count, model.max_count),
  };
  if (base.negative_prompt && model.negative_prompt) out.negative_prompt = base.negative_prompt;
  if (model.params.length > 0) out.params = paramsFor(model, base.params ?? {});
  if (base.seed !== undefined) out.seed = base.seed;
  const refs = base.reference_ids ?? [];
  if (refs.length > 0 && model.max_reference_images > 0) out.reference_ids = refs.slice(0, model.max_reference_images);
  return out;
}

/** The request ids of a group's jobs: derived from the group's, so a re-sent group is the same jobs. */
export function memberRequestId(groupId: string, index: number): string {
  return `${groupId}/${index}`;
}
