// Test builds only: stand in for the Tauri shell before the app starts.
import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { FakeEngine } from './fake-engine';

const params = new URLSearchParams(location.search);
const engine = new FakeEngine({
  seedJobs: Number(params.get('seed') ?? 0),
  recovery: params.has('recovery'),
  slowdown: Number(params.get('slowdown') ?? 1),
});

if (params.has('startup-failure')) {
  engine.startupFailure = { kind: 'invalid_input', message: params.get('startup-failure') ?? '' };
}
if (params.has('webhooks')) {
  engine.webhooks = {
    enabled: true,
    listening: '127.0.0.1:8787',
    public_url: 'https://easel.example.net',
    error: null,
    last_delivery: { at: Date.UTC(2026, 11, 1, 9, 30), provider: 'replicate', job_id: 'j-1', outcome: 'duplicate' },
  };
}
if (params.has('config-warning')) engine.report.config_warnings = [params.get('config-warning') ?? ''];

mockWindows('main');
mockIPC((cmd, args) => engine.handle(cmd, (args ?? {}) as Record<string, unknown>), { shouldMockEvents: true });

// Library files are painted by the test server (tests/e2e/server.mjs).
const internals = (window as unknown as { __TAURI_INTERNALS__: { convertFileSrc: (path: string) => string } })
  .__TAURI_INTERNALS__;
internals.convertFileSrc = (path: string) => `${location.origin}/mock-files/${encodeURIComponent(path)}`;

// Tests steer the engine through this handle.
(window as unknown as { __easelFake: FakeEngine }).__easelFake = engine;
