// Size presets a model can actually render.
import type { ModelInfo } from './api';

export type SizePreset = { label: string; width: number; height: number };

/** The aspect ratios offered, at about one megapixel. */
export const BASE_PRESETS: readonly SizePreset[] = [
  { label: '1:1', width: 1024, height: 1024 },
  { label: '3:2', width: 1152, height: 768 },
  { label: '2:3', width: 768, height: 1152 },
  { label: '16:9', width: 1344, height: 768 },
  { label: '9:16', width: 768, height: 1344 },
];

type SideLimits = Pick<ModelInfo, 'min_side' | 'max_side' | 'side_multiple'>;

/** Whether a side length is one the model accepts. */
export function validSide(side: number, m: SideLimits): boolean {
  const multiple = Math.max(1, m.side_multiple);
  return Number.isInteger(side) && side >= m.min_side && side <= m.max_side && side % multiple === 0;
}

/**
 * Fit a preset to a model: scale it (keeping its aspect) into the model's
 * min/max side, snap both sides to the model's multiple, and drop it when the
 * model cannot render anything close to that aspect.
 */
export function fitPreset(preset: SizePreset, m: SideLimits): SizePreset | null {
  const multiple = Math.max(1, m.side_multiple);
  let scale = 1;
  const long = Math.max(preset.width, preset.height);
  const short = Math.min(preset.width, preset.height);
  if (long * scale > m.max_side) scale = m.max_side / long;
  if (short * scale < m.min_side) scale = m.min_side / short;
  const snap = (v: number): number => {
    const lowest = Math.ceil(m.min_side / multiple) * multiple;
    const highest = Math.floor(m.max_side / multiple) * multiple;
    return Math.min(highest, Math.max(lowest, Math.round(v / multiple) * multiple));
  };
  const width = snap(preset.width * scale);
  const height = snap(preset.height * scale);
  if (!validSide(width, m) || !validSide(height, m)) return null;
  // Clamping both ends can flatten a ratio the model cannot hold: drop it.
  const wanted = preset.width / preset.height;
  const got = width / height;
  if (Math.abs(Math.log(got / wanted)) > 0.1) return null;
  return { label: preset.label, width, height };
}

/** The presets valid for a model, without duplicates. */
export function presetsFor(m: SideLimits | null | undefined): SizePreset[] {
  if (!m) return [];
  const out: SizePreset[] = [];
  for (const preset of BASE_PRESETS) {
    const fitted = fitPreset(preset, m);
    if (fitted && !out.some((p) => p.width === fitted.width && p.height === fitted.height)) {
      out.push(fitted);
    }
  }
  return out;
}

/** Clamp an image count to what a model allows. */
export function clampCount(count: number, maxCount: number): number {
  if (!Number.isFinite(count)) return 1;
  return Math.min(Math.max(1, Math.round(count)), Math.max(1, maxCount));
}
