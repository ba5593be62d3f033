import { describe, expect, it } from 'vitest';
import type { ModelInfo } from './api';
import { shutdownNote, typedModel } from './models';

const other: ModelInfo = {
  id: '',
  name: 'Any Replicate model (owner/name)',
  sizes: { kind: 'free', min_side: 64, max_side: 2048, multiple: 8, max_pixels: null, max_aspect: null },
  max_count: 4,
  max_reference_images: 0,
  max_reference_bytes: 0,
  negative_prompt: true,
  params: [],
  price: { per_image_micros: 0, per_token: null },
};

describe('typedModel', () => {
  it('takes owner/name and owner/name:version with the provider rules', () => {
    expect(typedModel(other, ' stability-ai/sdxl ')).toEqual({ ...other, id: 'stability-ai/sdxl', name: 'stability-ai/sdxl' });
    expect(typedModel(other, 'a/b:7762fd07cf82')?.id).toBe('a/b:7762fd07cf82');
  });

  it('refuses what is not a model id, and providers without typed models', () => {
    for (const bad of ['', 'sdxl', 'a/', '/b', 'a/b/c', 'a b/c', '../x', 'a/b:', 'a/b:xyz']) {
      expect(typedModel(other, bad), bad).toBeUndefined();
    }
    expect(typedModel(null, 'a/b')).toBeUndefined();
  });
});

describe('shutdownNote', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it('counts the days left, and says when a model is gone', () => {
    expect(shutdownNote('m', '2026-12-15', now)).toBe('m shuts down on 2026-12-15 (in 14 days).');
    expect(shutdownNote('m', '2026-12-02', now)).toBe('m shuts down on 2026-12-02 (in 1 day).');
    expect(shutdownNote('m', '2026-12-01', now)).toBe('m was shut down on 2026-12-01: choose another model.');
  });
  it('says nothing without a date or with a bad one', () => {
    expect(shutdownNote('m', undefined, now)).toBeNull();
    expect(shutdownNote('m', 'soon', now)).toBeNull();
  });
});
