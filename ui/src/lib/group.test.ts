import { describe, expect, it } from 'vitest';
import type { ModelInfo } from './api';
import { memberRequestId, requestFor, type Request } from './group';

const listed = (over: Partial<ModelInfo>): ModelInfo =>
  ({
    id: 'm',
    name: 'Model',
    sizes: {
      kind: 'fixed',
      sizes: [
        { label: '1:1', width: 1024, height: 1024, tier: null },
        { label: '16:9', width: 1344, height: 768, tier: null },
      ],
    },
    max_count: 4,
    max_reference_images: 0,
    max_reference_bytes: 0,
    negative_prompt: false,
    params: [],
    price: { per_image_micros: 40_000, per_token: null },
    ...over,
  }) as ModelInfo;

const base: Request = {
  prompt: 'a lighthouse',
  negative_prompt: 'fog',
  provider: 'offline',
  model: 'easel-landscape-1',
  width: 1280,
  height: 720,
  count: 8,
  seed: 42,
  reference_ids: ['a', 'b'],
};

describe('requestFor', () => {
  it('asks another model for the closest size, a count it allows and only what it takes', () => {
    const out = requestFor(base, 'other', listed({}));
    expect(out).toEqual({
      prompt: 'a lighthouse',
      provider: 'other',
      model: 'm',
      width: 1344,
      height: 768,
      count: 4,
      seed: 42,
    });
  });

  it('keeps the negative prompt and as many references as the model takes', () => {
    const out = requestFor(base, 'other', listed({ negative_prompt: true, max_reference_images: 1 }));
    expect(out).toMatchObject({ negative_prompt: 'fog', reference_ids: ['a'] });
  });

  it('derives stable member request ids from the group id', () => {
    expect(memberRequestId('g1', 0)).toBe('g1/0');
    expect(memberRequestId('g1', 1)).not.toBe(memberRequestId('g1', 0));
  });
});
