import { describe, expect, it } from 'vitest';
import type { ModelInfo } from './api';
import { paramsFor, pricePerImage } from './params';

const model: ModelInfo = {
  id: 'm',
  name: 'M',
  sizes: { kind: 'free', min_side: 64, max_side: 2048, multiple: 8, max_pixels: null, max_aspect: null },
  max_count: 4,
  max_reference_images: 0,
  max_reference_bytes: 0,
  negative_prompt: false,
  params: [
    {
      id: 'quality',
      name: 'Quality',
      kind: {
        type: 'choice',
        options: [
          { value: 'low', name: 'Low', price_per_image_micros: 11_000 },
          { value: 'high', name: 'High', price_per_image_micros: 167_000 },
          { value: 'auto', name: 'Auto', price_per_image_micros: null },
        ],
        default: 'low',
      },
    },
    { id: 'steps', name: 'Steps', kind: { type: 'int', min: 1, max: 4, default: 4 } },
    { id: 'fast', name: 'Fast', kind: { type: 'bool', default: true } },
  ],
  price: { per_image_micros: 42_000, per_token: null },
};

describe('model settings', () => {
  it('fills defaults, keeps valid values and drops what the model does not take', () => {
    expect(paramsFor(model)).toEqual({ quality: 'low', steps: 4, fast: true });
    expect(paramsFor(model, { quality: 'high', steps: 2, fast: false, other: 'x' })).toEqual({
      quality: 'high',
      steps: 2,
      fast: false,
    });
    expect(paramsFor(model, { quality: 'ultra', steps: 9, fast: 'yes' })).toEqual({ quality: 'low', steps: 4, fast: true });
    expect(paramsFor(undefined, { quality: 'high' })).toEqual({});
  });

  it('prices by the chosen option where it sets a price', () => {
    expect(pricePerImage(model, { quality: 'high' })).toBe(167_000);
    expect(pricePerImage(model, { quality: 'auto' })).toBe(42_000);
  });
});
