import { describe, expect, it } from 'vitest';
import type { SizeRule } from './api';
import { clampCount, fitPreset, fitSize, presetsFor, tiersOf, validSide } from './sizes';

const free = (min_side: number, max_side: number, multiple: number): SizeRule => ({
  kind: 'free',
  min_side,
  max_side,
  multiple,
  max_pixels: null,
  max_aspect: null,
});
const offline = { min_side: 64, max_side: 2048, multiple: 8 };

describe('size presets', () => {
  it('offers every aspect at its usual size for the offline model', () => {
    expect(presetsFor(free(64, 2048, 8))).toEqual([
      { label: '1:1', width: 1024, height: 1024 },
      { label: '3:2', width: 1152, height: 768 },
      { label: '2:3', width: 768, height: 1152 },
      { label: '16:9', width: 1344, height: 768 },
      { label: '9:16', width: 768, height: 1344 },
    ]);
  });

  it('scales presets down into a smaller model and snaps to its multiple', () => {
    const small = { min_side: 256, max_side: 768, multiple: 64 };
    const presets = presetsFor(free(256, 768, 64));
    expect(presets.find((p) => p.label === '1:1')).toEqual({ label: '1:1', width: 768, height: 768 });
    expect(presets.find((p) => p.label === '16:9')).toEqual({ label: '16:9', width: 768, height: 448 });
    for (const p of presets) {
      expect(validSide(p.width, small)).toBe(true);
      expect(validSide(p.height, small)).toBe(true);
    }
  });

  it('drops aspects a model cannot hold', () => {
    // Square-only model: 512..512.
    expect(presetsFor(free(512, 512, 8))).toEqual([{ label: '1:1', width: 512, height: 512 }]);
  });

  it('scales up into a large minimum', () => {
    expect(fitPreset({ label: '3:2', width: 300, height: 200 }, { min_side: 512, max_side: 2048, multiple: 16 })).toEqual({
      label: '3:2',
      width: 768,
      height: 512,
    });
  });

  it('has none without a model', () => {
    expect(presetsFor(undefined)).toEqual([]);
  });

  it('keeps under a pixel cap and an aspect cap', () => {
    const gpt = { min_side: 256, max_side: 3840, multiple: 16, max_pixels: 3840 * 2160, max_aspect: 3 };
    expect(fitPreset({ label: '1:1', width: 4000, height: 4000 }, gpt)).toEqual({ label: '1:1', width: 2880, height: 2880 });
    expect(fitPreset({ label: '4:1', width: 2048, height: 512 }, gpt)).toBeNull();
  });

  it('offers listed sizes, per tier for aspect ratio × tier models', () => {
    const rule: SizeRule = {
      kind: 'aspect',
      ratios: ['1:1', '16:9'],
      tiers: ['1 MP', '0.25 MP'],
      sizes: [
        { label: '1:1', tier: '1 MP', width: 1024, height: 1024 },
        { label: '16:9', tier: '1 MP', width: 1344, height: 768 },
        { label: '1:1', tier: '0.25 MP', width: 512, height: 512 },
        { label: '16:9', tier: '0.25 MP', width: 640, height: 384 },
      ],
    };
    expect(tiersOf(rule)).toEqual(['1 MP', '0.25 MP']);
    expect(presetsFor(rule, '0.25 MP')).toEqual([
      { label: '1:1', width: 512, height: 512 },
      { label: '16:9', width: 640, height: 384 },
    ]);
    // An unknown tier falls back to the first.
    expect(presetsFor(rule, 'nope').map((p) => p.width)).toEqual([1024, 1344]);
    // The nearest listed size: aspect first, then area.
    expect(fitSize(rule, 1920, 1080)).toEqual({ label: '16:9', width: 1344, height: 768 });
    expect(fitSize(rule, 600, 600)).toEqual({ label: '1:1', width: 512, height: 512 });
    expect(tiersOf(free(64, 2048, 8))).toEqual([]);
    const fixed: SizeRule = { kind: 'fixed', sizes: [{ label: 'Square', tier: null, width: 1024, height: 1024 }] };
    expect(presetsFor(fixed)).toEqual([{ label: 'Square', width: 1024, height: 1024 }]);
  });

  it('checks sides', () => {
    expect(validSide(1024, offline)).toBe(true);
    expect(validSide(1020, offline)).toBe(false);
    expect(validSide(32, offline)).toBe(false);
    expect(validSide(4096, offline)).toBe(false);
  });

  it('clamps the image count', () => {
    expect(clampCount(0, 8)).toBe(1);
    expect(clampCount(3.4, 8)).toBe(3);
    expect(clampCount(12, 8)).toBe(8);
    expect(clampCount(Number.NaN, 8)).toBe(1);
  });
});
