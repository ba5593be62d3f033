import { describe, expect, it } from 'vitest';
import { clampCount, fitPreset, presetsFor, validSide } from './sizes';

const offline = { min_side: 64, max_side: 2048, side_multiple: 8 };

describe('size presets', () => {
  it('offers every aspect at its usual size for the offline model', () => {
    expect(presetsFor(offline)).toEqual([
      { label: '1:1', width: 1024, height: 1024 },
      { label: '3:2', width: 1152, height: 768 },
      { label: '2:3', width: 768, height: 1152 },
      { label: '16:9', width: 1344, height: 768 },
      { label: '9:16', width: 768, height: 1344 },
    ]);
  });

  it('scales presets down into a smaller model and snaps to its multiple', () => {
    const small = { min_side: 256, max_side: 768, side_multiple: 64 };
    const presets = presetsFor(small);
    expect(presets.find((p) => p.label === '1:1')).toEqual({ label: '1:1', width: 768, height: 768 });
    expect(presets.find((p) => p.label === '16:9')).toEqual({ label: '16:9', width: 768, height: 448 });
    for (const p of presets) {
      expect(validSide(p.width, small)).toBe(true);
      expect(validSide(p.height, small)).toBe(true);
    }
  });

  it('drops aspects a model cannot hold', () => {
    // Square-only model: 512..512.
    const square = { min_side: 512, max_side: 512, side_multiple: 8 };
    expect(presetsFor(square)).toEqual([{ label: '1:1', width: 512, height: 512 }]);
  });

  it('scales up into a large minimum', () => {
    expect(fitPreset({ label: '3:2', width: 300, height: 200 }, { min_side: 512, max_side: 2048, side_multiple: 16 })).toEqual({
      label: '3:2',
      width: 768,
      height: 512,
    });
  });

  it('has none without a model', () => {
    expect(presetsFor(undefined)).toEqual([]);
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
