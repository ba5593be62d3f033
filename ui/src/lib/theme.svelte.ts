// Light, dark or the system's choice; remembered in localStorage and applied
// as <html data-theme="light|dark">.
export type ThemePref = 'light' | 'dark' | 'system';

const KEY = 'easel.theme';

function readPref(): ThemePref {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') return saved;
  } catch {
    // Storage can be unavailable; the system choice is a fine default.
  }
  return 'system';
}

class Theme {
  pref = $state<ThemePref>(readPref());
  #media: MediaQueryList | null = null;

  /** Apply now and follow the system while the preference is "system". */
  init(): void {
    this.#media = window.matchMedia('(prefers-color-scheme: dark)');
    this.#media.addEventListener('change', () => this.apply());
    this.apply();
  }

  set(pref: ThemePref): void {
    this.pref = pref;
    try {
      localStorage.setItem(KEY, pref);
    } catch {
      // Not remembered, but still applied.
    }
    this.apply();
  }

  get resolved(): 'light' | 'dark' {
    if (this.pref !== 'system') return this.pref;
    return this.#media?.matches ? 'dark' : 'light';
  }

  apply(): void {
    const root = document.documentElement;
    if (root.dataset.theme === this.resolved) return;
    // Colors switch at once: without this, buttons' color transitions
    // would flash the old theme for a moment.
    root.classList.add('theme-switching');
    root.dataset.theme = this.resolved;
    root.style.colorScheme = this.resolved;
    requestAnimationFrame(() => requestAnimationFrame(() => root.classList.remove('theme-switching')));
  }
}

export const theme = new Theme();
