// What the engine offers (providers and their models) and its settings.
import {
  errorMessage,
  getSettings,
  listProviders,
  type AppSettings,
  type ModelInfo,
  type ProviderInfo,
} from './api';

export class Catalog {
  providers = $state.raw<ProviderInfo[]>([]);
  settings = $state.raw<AppSettings | null>(null);
  error = $state<string | null>(null);
  loaded = $state(false);

  async load(): Promise<void> {
    const [providers, settings] = await Promise.allSettled([listProviders(), getSettings()]);
    if (providers.status === 'fulfilled') this.providers = providers.value;
    else this.error = `Could not load providers: ${errorMessage(providers.reason)}`;
    if (settings.status === 'fulfilled') this.settings = settings.value;
    this.loaded = true;
  }

  provider(id: string | null | undefined): ProviderInfo | undefined {
    return this.providers.find((p) => p.id === id);
  }

  model(providerId: string | null | undefined, modelId: string | null | undefined): ModelInfo | undefined {
    return this.provider(providerId)?.capabilities.models.find((m) => m.id === modelId);
  }

  /** How people call a provider ("OpenAI"); its id while the catalog loads. */
  providerName(id: string): string {
    return this.provider(id)?.name ?? id;
  }

  /** A model's display name; the id for a typed or unknown model. */
  modelName(providerId: string, modelId: string): string {
    return this.model(providerId, modelId)?.name ?? modelId;
  }

  /** Providers a job can be sent to now: they need no key or have one. */
  get usable(): ProviderInfo[] {
    return this.providers.filter(isUsable);
  }

  /** Providers that wait for a key (or a keychain that answers). */
  get waitingForKey(): ProviderInfo[] {
    return this.providers.filter((p) => !isUsable(p));
  }

  /** Take in a provider's new state (after its key was stored or removed). */
  update(info: ProviderInfo): void {
    this.providers = this.providers.map((p) => (p.id === info.id ? info : p));
  }
}

export function isUsable(p: ProviderInfo): boolean {
  return p.key.state === 'not_needed' || p.key.state === 'stored' || p.key.state === 'environment';
}
