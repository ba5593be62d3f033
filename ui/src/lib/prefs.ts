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
