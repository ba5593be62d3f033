// An in-memory stand-in for the Tauri shell, implementing the command and
// event contract the UI is built against. Test builds only (see mock-entry.ts).
//
// Jobs move queued -> submitting -> processing -> saving -> completed on a
// timer, one provider slot at a time, and every change is emitted as a
// `job-event` with seq/prev_seq like the shell does. A few prompt markers
// steer it: "#fail" fails the first attempt, "#slow" renders slowly,
// "#queue" waits in the provider's own queue first.
import { emit } from '@tauri-apps/api/event';
import { periodStart } from '../../src/lib/order';
import type {
  AppSettings,
  Asset,
  Board,
  Attempt,
  ReferenceImage,
  ErrorPayload,
  JobDetail,
  JobStatus,
  JobSummary,
  KeyCheck,
  ListQuery,
  ModelInfo,
  NewJob,
  PromptEntry,
  PromptHistory,
  ProviderInfo,
  QueueView,
  SizeRule,
  StartupReport,
  TimelineEntry,
  WebhookStatus,
} from '../../src/lib/api';

type Job = {
  summary: JobSummary;
  attempts: Attempt[];
  timeline: TimelineEntry[];
  assets: Asset[];
  /** Images deleted one by one (their files in the trash), for Undo. */
  deletedAssets?: Asset[];
  /** When the current phase started (engine time, ms). */
  phaseAt: number;
  /** What the provider billed, when it differs from the estimate (set by tests). */
  charged?: number;
};

export type FakeOptions = {
  /** Completed (and a few failed/canceled) jobs to start with. */
  seedJobs?: number;
  /** Add in-flight and held jobs and report them at startup. */
  recovery?: boolean;
  /** Multiplies every phase duration. */
  slowdown?: number;
};

const RUNNING: JobStatus[] = ['submitting', 'processing', 'saving'];

const MAX_REFERENCE_BYTES = 20 * 1024 * 1024;

function free(min_side: number, max_side: number, multiple: number): SizeRule {
  return { kind: 'free', min_side, max_side, multiple, max_pixels: null, max_aspect: null };
}

function perImage(micros: number): ModelInfo['price'] {
  return { per_image_micros: micros, per_token: null };
}

/** An aspect ratio × tier model with settings of its own, like FLUX on Replicate. */
const SIM_FLUX: ModelInfo = {
  id: 'sim-flux',
  name: 'Sim Flux',
  sizes: {
    kind: 'aspect',
    ratios: ['1:1', '16:9'],
    tiers: ['1 MP', '0.25 MP'],
    sizes: [
      { label: '1:1', tier: '1 MP', width: 1024, height: 1024 },
      { label: '16:9', tier: '1 MP', width: 1344, height: 768 },
      { label: '1:1', tier: '0.25 MP', width: 512, height: 512 },
      { label: '16:9', tier: '0.25 MP', width: 640, height: 384 },
    ],
  },
  max_count: 4,
  max_reference_images: 0,
  max_reference_bytes: 0,
  negative_prompt: false,
  params: [
    {
      id: 'quality',
      name: 'Quality',
      kind: {
        type: 'choice',
        options: [
          { value: 'draft', name: 'Draft', price_per_image_micros: 10_000 },
          { value: 'fine', name: 'Fine', price_per_image_micros: 90_000 },
        ],
        default: 'draft',
      },
    },
    { id: 'steps', name: 'Steps', kind: { type: 'int', min: 1, max: 8, default: 4 } },
    { id: 'go_fast', name: 'Go fast', kind: { type: 'bool', default: true } },
  ],
  price: perImage(10_000),
};

const PROVIDERS: ProviderInfo[] = [
  {
    id: 'offline',
    name: 'Offline (built-in)',
    capabilities: {
      models: [
        {
          id: 'easel-landscape-1',
          name: 'Easel Landscape 1',
          sizes: free(64, 2048, 8),
          max_count: 8,
          max_reference_images: 0,
          max_reference_bytes: 0,
          negative_prompt: true,
          params: [],
          price: perImage(0),
        },
        {
          id: 'easel-remix-1',
          name: 'Easel Remix',
          sizes: free(64, 2048, 8),
          max_count: 8,
          max_reference_images: 2,
          max_reference_bytes: MAX_REFERENCE_BYTES,
          negative_prompt: true,
          params: [],
          price: perImage(0),
        },
      ],
      default_model: 'easel-landscape-1',
      other_models: null,
      needs_key: false,
      progress: true,
      cancel: true,
      reconciliation: 'idempotency_key',
      poll_interval_ms: 0,
      processing_deadline_ms: null,
    },
    key: { state: 'not_needed' },
    shutdowns: {},
  },
  {
    // A second, priced provider without progress reports, so the UI's
    // cost, provider filter and "re-run elsewhere" paths have something to do.
    id: 'studio-sim',
    name: 'Studio Sim',
    capabilities: {
      models: [
        {
          id: 'sim-fast',
          name: 'Sim Fast',
          sizes: free(256, 1536, 64),
          max_count: 4,
          max_reference_images: 0,
          max_reference_bytes: 0,
          negative_prompt: true,
          params: [],
          price: perImage(40_000),
        },
        SIM_FLUX,
      ],
      default_model: 'sim-fast',
      other_models: {
        id: '',
        name: 'Any studio model (owner/name)',
        sizes: free(256, 1024, 64),
        max_count: 2,
        max_reference_images: 0,
        max_reference_bytes: 0,
        negative_prompt: true,
        params: [],
        price: perImage(0),
      },
      needs_key: false,
      progress: false,
      cancel: true,
      reconciliation: 'not_findable',
      poll_interval_ms: 0,
      processing_deadline_ms: null,
    },
    key: { state: 'not_needed' },
    // Announced by the provider: sim-fast goes away soon.
    shutdowns: { 'sim-fast': new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10) },
  },
  {
    // A cloud provider that needs an API key (the engine keeps keys in the
    // OS keychain; here, in memory). Its key state is filled in per call.
    id: 'acme-cloud',
    name: 'Acme Cloud',
    capabilities: {
      models: [
        {
          id: 'acme-1',
          name: 'Acme 1',
          sizes: free(256, 1024, 64),
          max_count: 2,
          max_reference_images: 0,
          max_reference_bytes: 0,
          negative_prompt: true,
          params: [],
          price: perImage(20_000),
        },
      ],
      default_model: 'acme-1',
      other_models: null,
      needs_key: true,
      progress: false,
      cancel: false,
      reconciliation: 'idempotency_key',
      poll_interval_ms: 0,
      processing_deadline_ms: null,
    },
    key: { state: 'missing' },
    shutdowns: {},
  },
];

/** The one key the fake acme-cloud accepts. */
export const ACME_KEY = 'acme-live-0123456789';

const SUBJECTS = [
  'A lighthouse at dusk, thick gouache',
  'Misty pine valley at sunrise',
  'Desert mesa under a violet sky',
  'Rolling green hills after rain',
  'Glacier lake with a lone red canoe',
  'Terraced rice fields in soft fog',
  'Autumn birch forest, watercolor',
  'Volcanic coastline at blue hour',
  'Lavender fields and a stone farmhouse',
  'Snowy mountain pass under the aurora',
  'Savanna with acacia trees at golden hour',
  'Cliffside village over a turquoise bay',
];

function fail(kind: ErrorPayload['kind'], message: string): never {
  const payload: ErrorPayload = { kind, message };
  throw payload;
}

function words(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function before(a: JobSummary, key: [number, string]): boolean {
  return a.created_at < key[0] || (a.created_at === key[0] && a.id < key[1]);
}

export class FakeEngine {
  jobs = new Map<string, Job>();
  byRequest = new Map<string, string>();
  seq = 0;
  /** Like the shell's bridge, the event chain starts at prev_seq 0. */
  lastEmitted = 0;
  slowdown: number;
  settings: AppSettings = {
    library_dir: '/home/you/Pictures/Easel',
    default_provider: 'offline',
    concurrency: { offline: 2, 'studio-sim': 1 },
    monthly_budget_micros: 25_000_000,
    spent_this_month_micros: 1_240_000,
  };
  report: StartupReport = { interrupted: [], held: [], config_warnings: [] };
  /** What `webhook_status` answers (off, as a fresh install is). */
  webhooks: WebhookStatus = { enabled: false, listening: null, public_url: null, error: null, last_delivery: null };
  /** What `startup_failure` answers: the app could not open its engine. */
  startupFailure: { kind: string; message: string } | null = null;
  /** Every command received, for tests to inspect. */
  calls: { cmd: string; args: unknown }[] = [];
  /** The next create_job rejects with this. */
  failNextCreate: ErrorPayload | null = null;
  nextPickedFolder: string | null = null;
  references = new Set<string>();
  /** Boards: a name, a smart board's filter, and a plain board's images ("job/index"). */
  boards = new Map<number, { name: string; filter: ListQuery | null; images: Set<string> }>();
  /** Starred prompts, as the engine's prompt_favorites table. */
  promptFavorites = new Map<string, { negative: string | null; at: number }>();
  /** The library file `copy_image` last put on the clipboard. */
  clipboard: string | null = null;
  /** Provider keys as the keychain would hold them. */
  keys = new Map<string, string>();
  /** While paused, jobs do not advance. */
  paused = false;
  /** The user's queue pause: nothing new starts (running jobs go on). */
  queuePaused = false;

  /** Drop (do not emit) this many upcoming events. */
  dropEvents = 0;
  #counter = 0;
  #order: JobSummary[] | null = null;
  /** Jobs not finished yet: the only ones tick() looks at. */
  #live = new Set<string>();
  #timer: ReturnType<typeof setInterval>;

  constructor(options: FakeOptions = {}) {
    this.slowdown = options.slowdown ?? 1;
    if (options.seedJobs) this.#seed(options.seedJobs);
    if (options.recovery) this.#seedRecovery();
    this.#timer = setInterval(() => this.tick(), 80);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #id(at: number): string {
    this.#counter += 1;
    // Time-ordered like a UUIDv7, so ids sort with creation.
    return `${at.toString(16).padStart(12, '0')}-${this.#counter.toString(16).padStart(8, '0')}`;
  }

  #newSummary(req: NewJob, at: number): JobSummary {
    const provider = PROVIDERS.find((p) => p.id === (req.provider ?? this.settings.default_provider));
    if (!provider) fail('invalid_input', `unknown provider ${req.provider}`);
    if (provider.capabilities.needs_key && !this.keys.has(provider.id)) {
      fail('missing_key', `${provider.id} needs an API key: add it in Settings`);
    }
    const wanted = req.model ?? provider.capabilities.default_model;
    const other = provider.capabilities.other_models;
    // Like Replicate: any owner/name, with the provider's rules for others.
    const model =
      provider.capabilities.models.find((m) => m.id === wanted) ??
      (other && /^[\w.-]+\/[\w.-]+$/.test(wanted) ? { ...other, id: wanted, name: wanted } : undefined);
    if (!model) fail('invalid_input', `unknown model ${req.model} for ${provider.id}`);
    const rule = model.sizes;
    if (rule.kind === 'free') {
      for (const side of [req.width, req.height]) {
        if (side < rule.min_side || side > rule.max_side || side % rule.multiple !== 0) {
          fail(
            'invalid_input',
            `${side} is not a valid side for ${model.id} (${rule.min_side}..${rule.max_side}, multiple of ${rule.multiple})`,
          );
        }
      }
    } else if (!rule.sizes.some((o) => o.width === req.width && o.height === req.height)) {
      fail('invalid_input', `${req.width}x${req.height} is not one of ${model.id}'s sizes`);
    }
    if (req.negative_prompt && !model.negative_prompt) fail('invalid_input', `${model.id} takes no negative prompt`);
    // Every setting checked, defaults filled in, as the engine does.
    const params: Record<string, string | number | boolean> = {};
    let perImage = model.price.per_image_micros;
    for (const spec of model.params) {
      const given = req.params?.[spec.id];
      const value = given ?? spec.kind.default;
      const ok =
        spec.kind.type === 'choice'
          ? spec.kind.options.some((o) => o.value === value)
          : spec.kind.type === 'int'
            ? typeof value === 'number' && value >= spec.kind.min && value <= spec.kind.max
            : typeof value === 'boolean';
      if (!ok) fail('invalid_input', `${spec.id} ${String(value)} is not valid for ${model.id}`);
      params[spec.id] = value;
      if (spec.kind.type === 'choice') {
        const price = spec.kind.options.find((o) => o.value === value)?.price_per_image_micros;
        if (price != null) perImage = price;
      }
    }
    for (const id of Object.keys(req.params ?? {})) {
      if (!model.params.some((p) => p.id === id)) fail('invalid_input', `${model.id} has no parameter ${id}`);
    }
    if (req.count < 1 || req.count > model.max_count) fail('invalid_input', `count must be 1..${model.max_count}`);
    const refs = req.reference_ids ?? [];
    if (refs.length > model.max_reference_images) {
      fail('invalid_input', `invalid input: ${model.id} does not take reference images`);
    }
    for (const id of refs) {
      if (!this.references.has(id)) fail('invalid_input', `reference image "${id}" is not stored (add the image again)`);
    }
    return {
      id: this.#id(at),
      request_id: req.request_id,
      status: 'queued',
      provider: provider.id,
      model: model.id,
      prompt: req.prompt,
      negative_prompt: req.negative_prompt ?? null,
      width: req.width,
      height: req.height,
      count: req.count,
      seed: req.seed ?? Math.floor(Math.random() * 4_294_967_295),
      created_at: at,
      updated_at: at,
      attempts: 0,
      max_attempts: 3,
      run: 1,
      progress: null,
      next_run_at: at,
      held: false,
      crash_count: 0,
      error_code: null,
      error_message: null,
      estimated_cost_micros: perImage * req.count,
      seq: 0,
      favorite: false,
      thumb_path: null,
      asset_count: 0,
      lease_epoch: 0,
      reference_ids: req.reference_ids ?? [],
      params,
      queue_position: null,
      provider_message: null,
      priority: 0,
      deleted: false,
      group_id: null,
      preview_path: null,
      image_path: null,
    };
  }

  #assetsFor(s: JobSummary, at: number): Asset[] {
    return Array.from({ length: s.count }, (_, i) => ({
      output_index: i,
      path: `${this.settings.library_dir}/2025/${s.id}_${i}_${s.width}x${s.height}.png`,
      thumb_path: `/home/you/.cache/easel/thumbs/${s.id}_${i}_${s.width}x${s.height}.thumb.png`,
      width: s.width,
      height: s.height,
      bytes: 180_000 + ((s.seed + i * 7919) % 900_000),
      sha256: (s.id + i).padEnd(64, '0').slice(0, 64),
      created_at: at,
      favorite: s.favorite,
    }));
  }

  /** Record a change: next seq, a timeline entry, and (normally) an event. */
  #change(job: Job, to: JobStatus | null, detail = '', at = Date.now(), silent = false): void {
    const s = job.summary;
    const from = s.status;
    if (to) s.status = to;
    // As the engine: previews last while the provider works.
    if (to && to !== 'processing' && to !== 'submitting') s.preview_path = null;
    if (s.status === 'queued' || RUNNING.includes(s.status)) this.#live.add(s.id);
    else this.#live.delete(s.id);
    this.seq += 1;
    s.seq = this.seq;
    s.updated_at = at;
    if (to && (to !== from || job.timeline.length === 0)) {
      job.phaseAt = at;
      job.timeline.push({
        seq: this.seq,
        at,
        from_status: job.timeline.length === 0 ? null : from,
        to_status: to,
        attempt: s.attempts || null,
        detail,
      });
    }
    if (silent) return;
    if (this.dropEvents > 0) {
      // Emitted by the shell but lost on the way: the chain moves on.
      this.dropEvents -= 1;
      this.lastEmitted = this.seq;
      return;
    }
    const payload = { seq: this.seq, prev_seq: this.lastEmitted, job: { ...s } };
    this.lastEmitted = this.seq;
    void emit('job-event', payload);
  }

  #seed(n: number): void {
    const now = Date.now();
    const batch: Job[] = [];
    for (let i = 0; i < n; i += 1) {
      // A minute apart; the first four are from ten days ago (date filters).
      const at = now - (n - i) * 60_000 - (i < 4 ? 10 * 86_400_000 : 0);
      const subject = SUBJECTS[i % SUBJECTS.length];
      const ratio = [
        [1024, 1024],
        [1152, 768],
        [768, 1152],
        [1344, 768],
      ][i % 4];
      const s = this.#newSummary(
        {
          request_id: `seed-${i}`,
          prompt: `${subject}${i >= SUBJECTS.length ? ` #${i}` : ''}`,
          width: ratio[0],
          height: ratio[1],
          count: i % 5 === 0 ? 2 : 1,
          seed: 1000 + i,
          provider: i % 6 === 5 ? 'studio-sim' : 'offline',
          model: i % 6 === 5 ? 'sim-fast' : 'easel-landscape-1',
        },
        at,
      );
      if (s.provider === 'studio-sim') {
        s.width = 1152;
        s.height = 768;
        s.count = 1;
        s.estimated_cost_micros = 40_000;
      }
      const job: Job = { summary: s, attempts: [], timeline: [], assets: [], phaseAt: at };
      this.seq += 1;
      s.seq = this.seq;
      const failed = i % 17 === 3;
      const canceled = i % 23 === 7;
      s.attempts = 1;
      s.status = failed ? 'failed' : canceled ? 'canceled' : 'completed';
      s.favorite = i % 7 === 2;
      job.attempts.push({
        number: 1,
        provider: s.provider,
        model: s.model,
        started_at: at + 200,
        ended_at: at + 2400,
        outcome: failed ? 'failed' : canceled ? 'canceled' : 'succeeded',
        http_status: null,
        error: failed ? 'The renderer ran out of memory (simulated)' : null,
        handle: `h-${s.id}`,
      });
      job.timeline.push({ seq: s.seq, at, from_status: null, to_status: 'queued', attempt: null, detail: 'created' });
      this.seq += 1;
      s.seq = this.seq;
      job.timeline.push({
        seq: s.seq,
        at: at + 2400,
        from_status: 'queued',
        to_status: s.status,
        attempt: 1,
        detail: failed ? 'the provider failed' : canceled ? 'canceled by the user' : `saved ${s.count === 1 ? '1 image' : `${s.count} images`}`,
      });
      if (failed) {
        s.error_code = 'provider_error';
        s.error_message = 'The renderer ran out of memory (simulated)';
      } else if (!canceled) {
        job.assets = this.#assetsFor(s, at + 2400);
        s.asset_count = job.assets.length;
        s.thumb_path = job.assets[0].thumb_path;
        s.image_path = job.assets[0].path;
      }
      batch.push(job);
    }
    for (const job of batch) {
      this.jobs.set(job.summary.id, job);
      this.byRequest.set(job.summary.request_id, job.summary.id);
    }
  }

  #seedRecovery(): void {
    const now = Date.now();
    const make = (prompt: string, status: JobStatus, held: boolean, ago: number): Job => {
      const s = this.#newSummary(
        { request_id: `rec-${prompt}`, prompt, width: 1024, height: 1024, count: 1, seed: 7 },
        now - ago,
      );
      s.status = status;
      s.held = held;
      s.attempts = 1;
      s.crash_count = held ? 3 : 1;
      this.seq += 2;
      s.seq = this.seq;
      const job: Job = {
        summary: s,
        attempts: [
          {
            number: 1,
            provider: s.provider,
            model: s.model,
            started_at: now - ago + 100,
            ended_at: null,
            outcome: null,
            http_status: null,
            error: null,
            handle: `h-${s.id}`,
          },
        ],
        timeline: [
          { seq: s.seq - 1, at: now - ago, from_status: null, to_status: 'queued', attempt: null, detail: 'created' },
          { seq: s.seq, at: now - ago + 100, from_status: 'queued', to_status: status, attempt: 1, detail: '' },
        ],
        assets: [],
        phaseAt: now,
      };
      this.jobs.set(s.id, job);
      this.#live.add(s.id);
      return job;
    };
    const interrupted = [
      make('Harbor town at night, resumed after restart', 'processing', false, 50_000),
      make('Foggy fjord, resumed after restart', 'submitting', false, 45_000),
      make('Canyon river bend, resumed after restart #slow', 'saving', false, 40_000),
    ];
    const held = [
      make('Crashes the renderer every time', 'processing', true, 30_000),
      make('Another crash-prone prompt', 'submitting', true, 20_000),
    ];
    this.report = {
      interrupted: interrupted.map((j) => j.summary.id),
      held: held.map((j) => ({ ...j.summary })),
      config_warnings: [],
    };
  }

  /** Advance every job that is due. */
  tick(): void {
    if (this.paused) return;
    const now = Date.now();
    const k = this.slowdown;
    const jobs = [...this.#live].map((id) => this.jobs.get(id)).filter((j): j is Job => !!j);
    for (const job of jobs) {
      const s = job.summary;
      if (s.held) continue;
      const slow = /#slow\b/.test(s.prompt) ? 8 : 1;
      const since = now - job.phaseAt;
      const caps = PROVIDERS.find((p) => p.id === s.provider)!.capabilities;
      if (s.status === 'submitting' && since > 250 * k) {
        s.progress = caps.progress ? 0 : null;
        this.#change(job, 'processing', 'accepted by the provider', now);
      } else if (s.status === 'processing') {
        if (/#fail\b/.test(s.prompt) && s.attempts === 1 && since > 400 * k) {
          s.error_code = 'provider_error';
          s.error_message = 'The renderer ran out of memory (simulated)';
          s.progress = null;
          this.#endAttempt(s, 'failed', s.error_message, now);
          this.#change(job, 'failed', s.error_message, now);
        } else if (caps.progress) {
          const p = Math.min(1, Math.floor(since / (300 * k * slow)) * 0.2);
          if (p >= 1) {
            s.progress = null;
            s.preview_path = null;
            this.#change(job, 'saving', 'the provider finished', now);
          } else if (p !== s.progress) {
            s.progress = p;
            // Partial images from 40 %, coarse then finer, as a provider sends them.
            if (p >= 0.4) {
              const side = p >= 0.6 ? 128 : 32;
              s.preview_path = `/home/you/.local/share/easel/previews/${s.id}_${s.seed % 7}_${side}x${side}.png`;
            }
            this.#change(job, null, '', now);
          }
        } else if (since > 1800 * k * slow) {
          s.queue_position = null;
          s.provider_message = null;
          this.#change(job, 'saving', 'the provider finished', now);
        } else if (/#queue\b/.test(s.prompt)) {
          // Like a provider with a queue of its own (ComfyUI): its place
          // in that queue, and what it says.
          const position = Math.max(0, 2 - Math.floor(since / (500 * k * slow)));
          if (position !== s.queue_position) {
            s.queue_position = position;
            s.provider_message = 'Waiting for a free GPU';
            this.#change(job, null, '', now);
          }
        }
      } else if (s.status === 'saving' && since > 300 * k * slow) {
        job.assets = this.#assetsFor(s, now);
        s.asset_count = job.assets.length;
        s.thumb_path = job.assets[0].thumb_path;
        s.image_path = job.assets[0].path;
        this.#endAttempt(s, 'succeeded', null, now);
        this.#change(job, 'completed', `saved ${s.count} image${s.count === 1 ? '' : 's'}`, now);
      }
    }
    // Start queued jobs, oldest first, while their provider has a free slot.
    for (const provider of PROVIDERS) {
      const limit = this.settings.concurrency[provider.id] ?? 1;
      let running = jobs.filter((j) => j.summary.provider === provider.id && !j.summary.held && RUNNING.includes(j.summary.status)).length;
      if (this.queuePaused) break;
      const queued = this.#queueOrder(jobs.filter((j) => j.summary.provider === provider.id));
      for (const job of queued) {
        if (running >= limit || now - job.phaseAt < 250 * k) break;
        const s = job.summary;
        s.attempts += 1;
        job.attempts.push({
          number: s.attempts,
          provider: s.provider,
          model: s.model,
          started_at: now,
          ended_at: null,
          outcome: null,
          http_status: null,
          error: null,
          handle: null,
        });
        this.#change(job, 'submitting', `attempt ${s.attempts}`, now);
        running += 1;
      }
    }
  }

  #endAttempt(s: JobSummary, outcome: string, error: string | null, at: number): void {
    const attempt = this.jobs.get(s.id)!.attempts.at(-1);
    if (attempt && attempt.ended_at === null) {
      attempt.ended_at = at;
      attempt.outcome = outcome;
      attempt.error = error;
      attempt.handle = attempt.handle ?? `h-${s.id}-${attempt.number}`;
    }
  }

  #get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) fail('not_found', `no job ${id}`);
    return job;
  }

  /** Change a job and lose its event on the way to the window (for tests). */
  silentChange(id: string, patch: Partial<JobSummary>): void {
    const job = this.#get(id);
    Object.assign(job.summary, patch);
    this.dropEvents += 1;
    this.#change(job, null, '', Date.now());
  }

  async handle(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    this.calls.push({ cmd, args });
    // A little IPC latency, so in-flight states are real.
    await new Promise((r) => setTimeout(r, cmd === 'create_job' ? 60 : 10));
    switch (cmd) {
      case 'create_job':
        return this.createJob(args.request as NewJob);
      case 'create_group':
        return this.createGroup(args.groupId as string, args.requests as NewJob[]);
      case 'group_jobs':
        return this.groupJobs(args.groupId as string);
      case 'list_jobs':
        return this.listJobs((args.query ?? {}) as ListQuery);
      case 'get_job':
        return this.getJob(args.id as string);
      case 'cancel_job':
        return this.cancelJob(args.id as string);
      case 'retry_job':
        return this.retryJob(args.id as string);
      case 'get_queue':
        return this.getQueue();
      case 'move_to_front':
        return this.moveToFront(args.id as string);
      case 'set_queue_paused':
        this.queuePaused = args.paused as boolean;
        return null;
      case 'delete_jobs':
        return this.deleteJobs(args.ids as string[]);
      case 'set_favorite':
        return this.setFavorite(args.ids as string[], args.favorite as boolean);
      case 'undo_delete':
        return this.undoDelete(args.ids as string[]);
      case 'delete_image':
        return this.deleteImage(args.id as string, args.index as number);
      case 'undo_delete_image':
        return this.undoDeleteImage(args.id as string, args.index as number);
      case 'set_image_favorite':
        return this.setImageFavorite(args.id as string, args.index as number, args.favorite as boolean);
      case 'reference_from_image': {
        const asset = this.#get(args.id as string).assets.find((a) => a.output_index === args.index);
        if (!asset) fail('not_found', `no image ${String(args.index)}`);
        const id = asset.sha256;
        this.references.add(id);
        return { id, width: asset.width, height: asset.height, bytes: asset.bytes };
      }
      case 'list_boards':
        return [...this.boards.keys()].map((id) => this.#board(id)).sort((a, b) => a.name.localeCompare(b.name));
      case 'create_board': {
        const name = String(args.name ?? '').trim();
        if (!name) fail('invalid_input', 'a board needs a name');
        if ([...this.boards.values()].some((b) => b.name.toLowerCase() === name.toLowerCase())) {
          fail('invalid_input', `there is already a board named "${name}"`);
        }
        const id = this.boards.size === 0 ? 1 : Math.max(...this.boards.keys()) + 1;
        const filter = (args.filter as ListQuery | null) ?? null;
        this.boards.set(id, { name, filter, images: new Set() });
        return this.#board(id);
      }
      case 'rename_board': {
        const board = this.#getBoard(args.id as number);
        board.name = String(args.name).trim();
        return this.#board(args.id as number);
      }
      case 'delete_board':
        this.#getBoard(args.id as number);
        this.boards.delete(args.id as number);
        return null;
      case 'add_to_board':
      case 'remove_from_board': {
        const board = this.#getBoard(args.id as number);
        if (board.filter && cmd === 'add_to_board') fail('invalid_input', `"${board.name}" is a smart board`);
        for (const ref of args.images as { job_id: string; output_index?: number }[]) {
          const job = this.#get(ref.job_id);
          for (const a of job.assets) {
            if (ref.output_index !== undefined && a.output_index !== ref.output_index) continue;
            const key = `${ref.job_id}/${a.output_index}`;
            if (cmd === 'add_to_board') board.images.add(key);
            else board.images.delete(key);
          }
        }
        return this.#board(args.id as number);
      }
      case 'images_on_board':
        return [...this.#getBoard(args.id as number).images]
          .filter((k) => k.startsWith(`${args.jobId as string}/`))
          .map((k) => Number(k.split('/')[1]));
      case 'prompt_history':
        return this.promptHistory((args.search as string | null) ?? '', (args.limit as number) ?? 50);
      case 'set_prompt_favorite': {
        const prompt = args.prompt as string;
        if (!prompt.trim()) fail('invalid_input', 'the prompt is empty');
        if (args.favorite) {
          if (!this.promptFavorites.has(prompt)) {
            this.promptFavorites.set(prompt, { negative: (args.negativePrompt as string | null) ?? null, at: Date.now() });
          }
        } else {
          this.promptFavorites.delete(prompt);
        }
        return null;
      }
      case 'copy_image': {
        const asset = this.#get(args.id as string).assets.find((a) => a.output_index === args.index);
        if (!asset) fail('not_found', `no image ${String(args.index)}`);
        this.clipboard = asset.path;
        return null;
      }
      case 'list_providers':
        return PROVIDERS.map((p) => this.#providerInfo(p.id));
      case 'set_api_key':
        return this.setApiKey(args.provider as string, args.key as string);
      case 'delete_api_key':
        this.#keyed(args.provider as string);
        this.keys.delete(args.provider as string);
        return this.#providerInfo(args.provider as string);
      case 'test_api_key':
        return this.testApiKey(args.provider as string, args.key as string | null);
      case 'startup_report':
        return structuredClone(this.report);
      case 'webhook_status':
        return structuredClone(this.webhooks);
      case 'startup_failure':
        return structuredClone(this.startupFailure);
      case 'get_settings':
        return structuredClone(this.settings);
      case 'save_settings':
        return this.saveSettings(args.settings as AppSettings);
      case 'import_reference':
        return this.importReference(args as unknown as Uint8Array);
      case 'pick_folder':
        // What the user picks in the system dialog: set by the test.
        return this.nextPickedFolder;
      case 'reveal_path':
      case 'open_path':
        return null;
      default:
        fail('internal', `the fake engine does not know ${cmd}`);
    }
  }

  #providerInfo(id: string): ProviderInfo {
    const p = structuredClone(PROVIDERS.find((x) => x.id === id)!);
    if (p.capabilities.needs_key) p.key = { state: this.keys.has(id) ? 'stored' : 'missing' };
    return p;
  }

  #keyed(id: string): void {
    const p = PROVIDERS.find((x) => x.id === id);
    if (!p) fail('invalid_input', `unknown provider "${id}"`);
    if (!p.capabilities.needs_key) fail('invalid_input', `invalid input: ${id} needs no API key`);
  }

  /** Like the engine's ApiKey::parse: trimmed, printable ASCII, no spaces. */
  #parseKey(text: string): string {
    const key = text.trim();
    if (!key) fail('invalid_input', 'invalid input: the API key is empty');
    if (/[^\x21-\x7e]/.test(key)) {
      fail('invalid_input', 'invalid input: the API key contains a space or line break; paste the key alone');
    }
    return key;
  }

  setApiKey(provider: string, text: string): ProviderInfo {
    this.#keyed(provider);
    this.keys.set(provider, this.#parseKey(text));
    return this.#providerInfo(provider);
  }

  testApiKey(provider: string, candidate: string | null): KeyCheck {
    this.#keyed(provider);
    const key = candidate?.trim() ? this.#parseKey(candidate) : this.keys.get(provider);
    if (key === undefined) fail('missing_key', `${provider} needs an API key: add it in Settings`);
    return key === ACME_KEY
      ? { provider, ok: true, message: `${provider} accepted the key` }
      : { provider, ok: false, message: `${provider} refused the key: invalid api key (401)` };
  }

  /** Like the engine: sniff the format, read a PNG's size, store by content. */
  importReference(bytes: Uint8Array): ReferenceImage {
    if (!(bytes instanceof Uint8Array)) fail('invalid_input', 'send the image file\'s bytes as the request body');
    if (bytes.length > MAX_REFERENCE_BYTES) {
      fail('invalid_input', `the file is ${(bytes.length / 1048576).toFixed(1)} MB; a reference image can be at most 20 MB`);
    }
    const png = [0x89, 0x50, 0x4e, 0x47].every((b, i) => bytes[i] === b);
    const jpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
    if (!png && !jpeg) {
      fail('invalid_input', 'the file is not an image Easel can use: data is not in a recognised image format');
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [width, height] = png && bytes.length >= 24 ? [view.getUint32(16), view.getUint32(20)] : [0, 0];
    let hash = 2166136261;
    for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
    const id = hash.toString(16).padStart(8, '0').repeat(8);
    this.references.add(id);
    return { id, width, height, bytes: bytes.length };
  }

  createJob(req: NewJob): JobSummary {
    if (this.failNextCreate) {
      const err = this.failNextCreate;
      this.failNextCreate = null;
      throw err;
    }
    const existing = this.byRequest.get(req.request_id);
    if (existing) return { ...this.#get(existing).summary };
    if (!req.prompt || !req.prompt.trim()) fail('invalid_input', 'the prompt must not be empty');
    const budget = this.settings.monthly_budget_micros;
    const now = Date.now();
    const s = this.#newSummary(req, now);
    if (budget !== null && this.settings.spent_this_month_micros + s.estimated_cost_micros > budget) {
      fail('budget', 'this job would go over the monthly budget');
    }
    const job: Job = { summary: s, attempts: [], timeline: [], assets: [], phaseAt: now };
    this.jobs.set(s.id, job);
    this.#order = null;
    this.byRequest.set(req.request_id, s.id);
    this.#change(job, 'queued', 'created', now);
    return { ...s };
  }

  /** One prompt to several models: all the jobs or none, as the engine. */
  createGroup(groupId: string, reqs: NewJob[]): JobSummary[] {
    if (reqs.length < 2 || reqs.length > 4) fail('invalid_input', `a comparison sends 2 to 4 jobs, not ${reqs.length}`);
    if (reqs.every((r) => this.byRequest.has(r.request_id))) {
      return reqs.map((r) => ({ ...this.#get(this.byRequest.get(r.request_id)!).summary }));
    }
    const now = Date.now();
    const made = reqs.map((r, i) => {
      if (!r.prompt || !r.prompt.trim()) fail('invalid_input', 'the prompt must not be empty');
      return this.#newSummary(r, now + i);
    });
    const budget = this.settings.monthly_budget_micros;
    const total = made.reduce((sum, s) => sum + s.estimated_cost_micros, 0);
    if (budget !== null && this.settings.spent_this_month_micros + total > budget) {
      fail('budget', 'these jobs would go over the monthly budget');
    }
    return made.map((s, i) => {
      s.group_id = groupId;
      const job: Job = { summary: s, attempts: [], timeline: [], assets: [], phaseAt: now };
      this.jobs.set(s.id, job);
      this.byRequest.set(reqs[i].request_id, s.id);
      this.#change(job, 'queued', 'created', now);
      return { ...s };
    });
  }

  groupJobs(groupId: string): JobSummary[] {
    return [...this.jobs.values()]
      .map((j) => j.summary)
      .filter((s) => s.group_id === groupId && !s.deleted)
      .sort((a, b) => a.created_at - b.created_at)
      .map((s) => ({ ...s }));
  }

  /** Jobs newest first (the index the engine's keyset queries use). */
  #sorted(): JobSummary[] {
    if (!this.#order) {
      this.#order = [...this.jobs.values()].map((j) => j.summary);
      this.#order.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1));
    }
    return this.#order;
  }

  listJobs(q: ListQuery): JobSummary[] {
    const wanted = words(q.search ?? '');
    const limit = Math.min(q.limit ?? 100, 1000);
    const out: JobSummary[] = [];
    const all = this.#sorted();
    let start = 0;
    if (q.before) {
      // Binary search for the first row after the cursor.
      let hi = all.length;
      while (start < hi) {
        const mid = (start + hi) >>> 1;
        if (before(all[mid], q.before)) hi = mid;
        else start = mid + 1;
      }
    }
    for (let i = start; i < all.length; i += 1) {
      const s = all[i];
      if (s.deleted) continue;
      if (q.board !== undefined && !this.#onBoard(q.board, s.id)) continue;
      if (q.status && s.status !== q.status) continue;
      if (q.provider && s.provider !== q.provider) continue;
      if (q.model && s.model !== q.model) continue;
      if (q.created_since !== undefined && s.created_at < q.created_since) continue;
      if (q.period && s.created_at < periodStart(q.period)) continue;
      if (q.favorite !== undefined && s.favorite !== q.favorite) continue;
      if (q.held !== undefined && s.held !== q.held) continue;
      if (wanted.length > 0) {
        const have = words(s.prompt);
        if (!wanted.every((w) => have.some((h) => h.startsWith(w)))) continue;
      }
      out.push({ ...s });
      if (out.length >= limit) break;
    }
    return out;
  }

  getJob(id: string): JobDetail {
    const job = this.#get(id);
    return structuredClone({
      job: job.summary,
      attempts: job.attempts,
      timeline: job.timeline,
      assets: job.assets,
      // Completed runs are charged: the provider's figure where a test set one.
      ledger:
        job.summary.status === 'completed'
          ? [
              {
                run: job.summary.run,
                kind: 'charge' as const,
                amount_micros: job.charged ?? job.summary.estimated_cost_micros,
                at: job.summary.updated_at,
              },
            ]
          : [],
    });
  }

  /** Queued jobs of `jobs` in the order they start: moved to the front first, then oldest. */
  #queueOrder(jobs: Job[]): Job[] {
    const p = (j: Job): number => j.summary.priority;
    return jobs
      .filter((j) => j.summary.status === 'queued' && !j.summary.held)
      .sort(
        (a, b) => p(b) - p(a) || a.summary.created_at - b.summary.created_at || (a.summary.id < b.summary.id ? -1 : 1),
      );
  }

  getQueue(): QueueView {
    const live = [...this.#live].map((id) => this.jobs.get(id)).filter((j): j is Job => !!j);
    const running = live
      .filter((j) => RUNNING.includes(j.summary.status) || (j.summary.held && j.summary.status === 'queued'))
      .map((j) => ({ ...j.summary }));
    return { jobs: [...running, ...this.#queueOrder(live).map((j) => ({ ...j.summary }))], paused: this.queuePaused };
  }

  moveToFront(id: string): JobSummary {
    const job = this.#get(id);
    if (job.summary.status !== 'queued') fail('conflict', `the job is ${job.summary.status}; moving it in the queue is not possible now`);
    job.summary.priority = Math.max(0, ...[...this.jobs.values()].map((j) => j.summary.priority)) + 1;
    this.#change(job, null, 'moved to the front of the queue');
    return { ...job.summary };
  }

  cancelJob(id: string): JobSummary {
    const job = this.#get(id);
    const s = job.summary;
    if (!RUNNING.includes(s.status) && s.status !== 'queued') fail('conflict', `the job is already ${s.status}`);
    s.held = false;
    s.progress = null;
    this.#endAttempt(s, 'canceled', null, Date.now());
    this.#change(job, 'canceled', 'canceled by the user');
    return { ...s };
  }

  retryJob(id: string): JobSummary {
    const job = this.#get(id);
    const s = job.summary;
    if (s.held) {
      s.held = false;
      s.crash_count = 0;
      this.#endAttempt(s, 'interrupted', 'the engine stopped during this attempt', Date.now());
      this.#change(job, 'queued', 'resumed by the user');
      return { ...s };
    }
    if (s.status !== 'failed' && s.status !== 'canceled') fail('conflict', `a ${s.status} job cannot be retried`);
    s.error_code = null;
    s.error_message = null;
    s.run += 1;
    this.#change(job, 'queued', 'retried by the user');
    return { ...s };
  }

  #getBoard(id: number): { name: string; filter: ListQuery | null; images: Set<string> } {
    const board = this.boards.get(id);
    if (!board) fail('not_found', `no board ${id}`);
    return board;
  }

  #onBoard(id: number, jobId: string): boolean {
    return [...(this.boards.get(id)?.images ?? [])].some((k) => k.startsWith(`${jobId}/`));
  }

  #board(id: number): Board {
    const b = this.#getBoard(id);
    const count = b.filter
      ? this.listJobs({ ...b.filter, limit: 1000 }).length
      : [...this.jobs.values()].filter((j) => !j.summary.deleted && this.#onBoard(id, j.summary.id)).length;
    return { id, name: b.name, filter: b.filter, count };
  }

  /** Like the engine: starred prompts newest first, then recent prompts of visible jobs, each once. */
  promptHistory(search: string, limit: number): PromptHistory {
    const wanted = words(search);
    const matches = (p: string) => wanted.every((w) => words(p).some((x) => x.startsWith(w)));
    const favorites = [...this.promptFavorites.entries()]
      .sort((a, b) => b[1].at - a[1].at)
      .filter(([p]) => wanted.every((w) => p.toLowerCase().includes(w)))
      .map(([prompt, f]) => ({ prompt, negative_prompt: f.negative, last_used: f.at, favorite: true }));
    const recent: PromptEntry[] = [];
    const seen = new Set<string>();
    for (const s of this.#sorted()) {
      if (recent.length >= limit) break;
      if (s.deleted || seen.has(s.prompt) || !matches(s.prompt)) continue;
      seen.add(s.prompt);
      recent.push({
        prompt: s.prompt,
        negative_prompt: s.negative_prompt,
        last_used: s.created_at,
        favorite: this.promptFavorites.has(s.prompt),
      });
    }
    return { favorites, recent };
  }

  /** Like the engine: marked deleted (a waiting job canceled first), files to the trash. */
  deleteJobs(ids: string[]): string[] {
    const deleted: string[] = [];
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (!job || job.summary.deleted) continue;
      if (RUNNING.includes(job.summary.status) && !job.summary.held) continue;
      const to = job.summary.status === 'queued' || job.summary.held ? 'canceled' : null;
      job.summary.held = false;
      job.summary.deleted = true;
      this.#order = null;
      this.#change(job, to, to ? 'canceled by the user' : '');
      deleted.push(id);
    }
    return deleted;
  }

  undoDelete(ids: string[]): JobSummary[] {
    return ids.map((id) => {
      const job = this.#get(id);
      if (job.summary.deleted) {
        job.summary.deleted = false;
        this.#order = null;
        this.#change(job, null);
      }
      return { ...job.summary };
    });
  }

  #refreshImages(job: Job): void {
    const s = job.summary;
    job.assets.sort((a, b) => a.output_index - b.output_index);
    s.asset_count = job.assets.length;
    s.thumb_path = job.assets[0]?.thumb_path ?? null;
    s.image_path = job.assets[0]?.path ?? null;
    s.favorite = job.assets.some((a) => a.favorite);
    this.#change(job, null);
  }

  deleteImage(id: string, index: number): JobSummary {
    const job = this.#get(id);
    const at = job.assets.findIndex((a) => a.output_index === index);
    if (at < 0) fail('not_found', `no image ${index + 1} of job ${id}`);
    if (job.assets.length === 1) {
      this.deleteJobs([id]);
      return { ...job.summary };
    }
    job.deletedAssets = [...(job.deletedAssets ?? []), ...job.assets.splice(at, 1)];
    this.#refreshImages(job);
    return { ...job.summary };
  }

  undoDeleteImage(id: string, index: number): JobSummary {
    const job = this.#get(id);
    const at = (job.deletedAssets ?? []).findIndex((a) => a.output_index === index);
    if (at >= 0) {
      job.assets.push(...(job.deletedAssets ?? []).splice(at, 1));
      this.#refreshImages(job);
    }
    return { ...job.summary };
  }

  setImageFavorite(id: string, index: number, favorite: boolean): JobSummary {
    const job = this.#get(id);
    const asset = job.assets.find((a) => a.output_index === index);
    if (!asset) fail('not_found', `no image ${index + 1} of job ${id}`);
    asset.favorite = favorite;
    this.#refreshImages(job);
    return { ...job.summary };
  }

  setFavorite(ids: string[], favorite: boolean): JobSummary[] {
    const changed: JobSummary[] = [];
    for (const id of ids) {
      const job = this.jobs.get(id);
      if (!job || job.summary.favorite === favorite) continue;
      job.summary.favorite = favorite;
      for (const a of job.assets) a.favorite = favorite;
      this.#change(job, null);
      changed.push({ ...job.summary });
    }
    return changed;
  }

  saveSettings(next: AppSettings): AppSettings {
    if (!PROVIDERS.some((p) => p.id === next.default_provider)) fail('invalid_input', `unknown provider ${next.default_provider}`);
    for (const [id, n] of Object.entries(next.concurrency)) {
      if (!PROVIDERS.some((p) => p.id === id)) fail('invalid_input', `unknown provider ${id}`);
      if (!Number.isInteger(n) || n < 1 || n > 16) fail('invalid_input', `concurrency for ${id} must be 1..=16, got ${n}`);
    }
    if (next.monthly_budget_micros !== null && next.monthly_budget_micros < 0) {
      fail('invalid_input', 'the monthly budget cannot be negative');
    }
    if (!next.library_dir.trim().startsWith('/')) {
      fail('invalid_input', `the library folder must be an absolute path, got "${next.library_dir}"`);
    }
    this.settings = {
      ...next,
      library_dir: next.library_dir.trim(),
      spent_this_month_micros: this.settings.spent_this_month_micros,
    };
    return structuredClone(this.settings);
  }
}
