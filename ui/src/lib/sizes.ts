// Size presets a model can actually render.
import type { SizeRule } from './api';

export type SizePreset = { label: string; width: number; height: number };

/** The aspect ratios offered, at about one megapixel. */
export const BASE_PRESETS: readonly SizePreset[] = [
  { label: '1:1', width: 1024, height: 1024 },
  { label: '3:2', width: 1152, height: 768 },
  { label: '2:3', width: 768, height: 1152 },
  { label: '16:9', width: 1344, height: 768 },
  { label: '9:16', width: 768, height: 1344 },
];

/** The free-size rule's limits. */
export type FreeLimits = {
  min_side: number;
  max_side: number;
  multiple: number;
  max_pixels?: number | null;
  max_aspect?: number | null;
};

/** Whether a side length is one the model accepts. */
export function validSide(side: number, m: FreeLimits): boolean {
  const multiple = Math.max(1, m.multiple);
  return Number.isInteger(side) && side >= m.min_side && side <= m.max_side && side % multiple === 0;
}

/**
 * Fit a preset to a model: scale it (keeping its aspect) into the model's
 * min/max side and pixel cap, snap both sides to the model's multiple, and
 * drop it when the model cannot render anything close to that aspect.
 */
export function fitPreset(preset: SizePreset, m: FreeLimits): SizePreset | null {
  const multiple = Math.max(1, m.multiple);
  const wanted = preset.width / preset.height;
  if (m.max_aspect && Math.max(wanted, 1 / wanted) > m.max_aspect) return null;
  let scale = 1;
  const long = Math.max(preset.width, preset.height);
  const short = Math.min(preset.width, preset.height);
  if (long * scale > m.max_side) scale = m.max_side / long;
  if (m.max_pixels && preset.width * preset.height * scale * scale > m.max_pixels) {
    scale = Math.sqrt(m.max_pixels / (preset.width * preset.height));
  }
  if (short * scale < m.min_side) scale = m.min_side / short;
  const lowest = Math.ceil(m.min_side / multiple) * multiple;
  const highest = Math.floor(m.max_side / multiple) * multiple;
  const snap = (v: number, round: (x: number) => number): number =>
    Math.min(highest, Math.max(lowest, round(v / multiple) * multiple));
  let width = snap(preset.width * scale, Math.round);
  let height = snap(preset.height * scale, Math.round);
  // Rounding down keeps a size scaled to the pixel cap under it.
  if (m.max_pixels && width * height > m.max_pixels) {
    width = snap(preset.width * scale, Math.floor);
    height = snap(preset.height * scale, Math.floor);
  }
  if (!validSide(width, m) || !validSide(height, m)) return null;
  if (m.max_pixels && width * height > m.max_pixels) return null;
  // Clamping both ends can flatten a ratio the model cannot hold: drop it.
  if (Math.abs(Math.log(width / height / wanted)) > 0.1) return null;
  return { label: preset.label, width, height };
}

/** Whether a model renders exactly `width` × `height`. */
export function fits(rule: SizeRule, width: number, height: number): boolean {
  if (rule.kind !== 'free') return rule.sizes.some((s) => s.width === width && s.height === height);
  const same = fitPreset({ label: '', width, height }, rule);
  return same !== null && same.width === width && same.height === height;
}

/** The size tiers of an aspect ratio × tier model (none for other rules). */
export function tiersOf(rule: SizeRule | null | undefined): string[] {
  return rule?.kind === 'aspect' ? rule.tiers : [];
}

/**
 * The sizes to offer for a model: its listed sizes (at `tier`, for an
 * aspect ratio × tier model), or the base presets fitted into its free
 * limits, without duplicates.
 */
export function presetsFor(rule: SizeRule | null | undefined, tier?: string): SizePreset[] {
  if (!rule) return [];
  if (rule.kind === 'fixed') return rule.sizes.map((s) => ({ label: s.label, width: s.width, height: s.height }));
  if (rule.kind === 'aspect') {
    const at = tier && rule.tiers.includes(tier) ? tier : rule.tiers[0];
    return rule.sizes.filter((s) => s.tier === at).map((s) => ({ label: s.label, width: s.width, height: s.height }));
  }
  const out: SizePreset[] = [];
  for (const preset of BASE_PRESETS) {
    const fitted = fitPreset(preset, rule);
    if (fitted && !out.some((p) => p.width === fitted.width && p.height === fitted.height)) {
      out.push(fitted);
    }
  }
  return out;
}

/**
 * The size a model takes that is closest to `width` × `height`: the same
 * aspect scaled into free limits, or the listed size nearest in aspect
 * (then in area). Null when it has none.
 */
export function fitSize(rule: SizeRule, width: number, height: number): SizePreset | null {
  if (rule.kind === 'free') return fitPreset({ label: '', width, height }, rule);
  const distance = (s: { width: number; height: number }): [number, number] => [
    Math.abs(Math.log(s.width / s.height / (width / height))),
    Math.abs(Math.log((s.width * s.height) / (width * height))),
  ];
  let best: SizePreset | null = null;
  let bestD: [number, number] = [Infinity, Infinity];
  for (const s of rule.sizes) {
    const d = distance(s);
    if (d[0] < bestD[0] - 1e-9 || (Math.abs(d[0] - bestD[0]) <= 1e-9 && d[1] < bestD[1])) {
      best = { label: s.label, width: s.width, height: s.height };
      bestD = d;
    }
  }
  return best;
}

/** Clamp an image count to what a model allows. */
export function clampCount(count: number, maxCount: number): number {
  if (!Number.isFinite(count)) return 1;
  return Math.min(Math.max(1, Math.round(count)), Math.max(1, maxCount));
}
