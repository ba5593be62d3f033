// Small UI preferences the engine does not store (AppSettings has no
// default model): kept in localStorage.
const MODEL_KEY = 'easel.defaultModel.';

export function defaultModelFor(provider: string): string | null {
  try {
    return localStorage.getItem(MODEL_KEY + provider);
  } catch {
    return null;
  }
}

export function setDefaultModelFor(provider: string, model: string | null): void {
  try {
    if (model) localStorage.setItem(MODEL_KEY + provider, model);
    else localStorage.removeItem(MODEL_KEY + provider);
  } catch {
    // Not remembered.
  }
}

const THUMB_KEY = 'easel.thumbSize';
/** Gallery row height (px): the size slider's range and default. */
export const THUMB_SIZES = { min: 140, max: 360, default: 200 } as const;

export function thumbSize(): number {
  try {
    const v = Number(localStorage.getItem(THUMB_KEY));
    return v >= THUMB_SIZES.min && v <= THUMB_SIZES.max ? v : THUMB_SIZES.default;
  } catch {
    return THUMB_SIZES.default;
  }
}

export function setThumbSize(size: number): void {
  try {
    localStorage.setItem(THUMB_KEY, String(size));
  } catch {
    // Not remembered.
  }
}
