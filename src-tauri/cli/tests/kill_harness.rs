//! The kill harness: several `easel-cli work` processes on one database
//! with short leases, killed at random (SIGKILL and SIGINT) and restarted,
//! some with their clock shifted ahead (`EASEL_TEST_CLOCK_SKEW_MS`), while
//! jobs are created, canceled and retried and a lowered byte limit fails
//! some outputs. At the end every invariant of the engine is checked and
//! one summary line is printed.
//!
//! Small by default (about a minute); `EASEL_HARNESS_SCALE=large` runs at
//! least 1,000 jobs and 200 kills.
//!
//! It runs three times: on the offline provider, and against the Replicate
//! and OpenAI emulators (real HTTP servers in this process), where it also
//! checks what each run of a job generated: never twice at Replicate (a
//! worker killed mid-submit is followed by one that finds the prediction
//! by listing), and at OpenAI, which cannot be asked, twice only with a
//! "possible duplicate" entry in the job's timeline.

mod common;

use common::{walk, Cli};
use easel_engine::{Config, Engine, JobStatus, JobSummary, LedgerKind, ListQuery, NewJob};
use rand::{Rng, RngExt};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 3;
const LEASE_MS: &str = "250";
const PRICE_MICROS: i64 = 1_000;
/// Enough for about three quarters of the images asked for: later creates
/// (and retries) are refused by the budget.
const BUDGET_PER_JOB_MICROS: i64 = 1_500;

struct Scale {
    jobs: usize,
    kills: usize,
}

/// Which provider the jobs go to.
#[derive(Clone)]
enum Mode {
    Offline,
    /// The Replicate emulator at this base URL, accepting this token.
    Replicate {
        base_url: String,
        token: String,
    },
    /// The OpenAI emulator: a lost answer cannot be found there, so a
    /// resend must be marked "possible duplicate".
    OpenAi {
        base_url: String,
        key: String,
    },
}

fn scale(mode: &Mode) -> Scale {
    let large = std::env::var("EASEL_HARNESS_SCALE").as_deref() == Ok("large");
    match (mode, large) {
        // About a fifth of the creates are refused by the budget: enough
        // creates that at least 1,000 jobs exist.
        (Mode::Offline, true) => Scale {
            jobs: 1_300,
            kills: 200,
        },
        (Mode::Offline, false) => Scale {
            jobs: 160,
            kills: 36,
        },
        (Mode::Replicate { .. } | Mode::OpenAi { .. }, true) => Scale {
            jobs: 400,
            kills: 100,
        },
        (Mode::Replicate { .. } | Mode::OpenAi { .. }, false) => Scale {
            jobs: 60,
            kills: 16,
        },
    }
}

#[derive(Default)]
struct Tally {
    sigkill: usize,
    sigint: usize,
    clock_shifts: usize,
    cancels: usize,
    retries: usize,
    budget_refusals: usize,
}

struct Worker {
    child: Child,
    skewed: bool,
}

fn spawn_worker(cli: &Cli, mode: &Mode, skew: bool) -> Worker {
    let mut cmd = cli.cmd();
    with_provider(&mut cmd, mode);
    cmd.env("EASEL_LEASE_MS", LEASE_MS)
        .env("EASEL_OFFLINE_LATENCY_MS", "300")
        .env("EASEL_LOG", "error")
        .args(["work"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if skew {
        // Ahead by two leases: this worker sees live workers' leases as
        // expired and takes their jobs over while they still run them.
        cmd.env("EASEL_TEST_CLOCK_SKEW_MS", "500");
    }
    Worker {
        child: cmd.spawn().expect("spawn worker"),
        skewed: skew,
    }
}

/// Point a process at the mode's provider.
fn with_provider(cmd: &mut std::process::Command, mode: &Mode) {
    match mode {
        Mode::Offline => {}
        Mode::Replicate { base_url, token } => {
            cmd.env("EASEL_REPLICATE_BASE_URL", base_url)
                .env("REPLICATE_API_TOKEN", token);
        }
        Mode::OpenAi { base_url, key } => {
            cmd.env("EASEL_OPENAI_BASE_URL", base_url)
                .env("OPENAI_API_KEY", key);
        }
    }
}

fn signal(child: &Child, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status();
}

fn new_job(rng: &mut impl Rng, mode: &Mode, i: usize) -> NewJob {
    let mut side = [64u32, 96, 128][rng.random_range(0..3)];
    let (provider, model) = match mode {
        Mode::Offline => (None, None),
        Mode::Replicate { .. } => (Some("replicate".into()), Some("harness/sd-tiny".into())),
        Mode::OpenAi { .. } => {
            side = 256;
            (Some("openai".into()), Some("gpt-image-2".into()))
        }
    };
    NewJob {
        request_id: format!("harness-{i}"),
        prompt: format!("harness scene {i}"),
        negative_prompt: None,
        provider,
        model,
        width: side,
        height: side,
        count: rng.random_range(1..=3),
        seed: Some(rng.random_range(0..1_000_000)),
        reference_ids: vec![],
        params: Default::default(),
    }
}

async fn all_jobs(engine: &Engine) -> Vec<JobSummary> {
    let mut out: Vec<JobSummary> = Vec::new();
    loop {
        let before = out.last().map(|j| (j.created_at, j.id.clone()));
        let page = engine
            .list(ListQuery {
                before,
                limit: Some(1000),
                ..ListQuery::default()
            })
            .await
            .expect("list");
        let done = page.len() < 1000;
        out.extend(page);
        if done {
            return out;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn kill_harness() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    harness(&rt, &Mode::Offline, None);
}

#[test]
fn kill_harness_against_openai() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = "sk-emu-Harness00001111".to_string();
    let emu = rt
        .block_on(easel_emulator::openai::start(&key, 0))
        .expect("emulator");
    let mode = Mode::OpenAi {
        base_url: emu.base_url.clone(),
        key,
    };
    harness(&rt, &mode, Some(&emu.script));
}

#[test]
fn kill_harness_against_replicate() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = "r8_HarnessToken0000".to_string();
    // The emulator's server runs on this runtime's threads while the test
    // thread drives the harness.
    let emu = rt
        .block_on(easel_emulator::replicate::start(&token, 0))
        .expect("emulator");
    emu.control.set_processing(Duration::from_millis(400));
    let mode = Mode::Replicate {
        base_url: emu.base_url.clone(),
        token,
    };
    harness(&rt, &mode, Some(&emu.script));
}

/// `generated`: the emulator's count of generations per prompt.
fn harness(
    rt: &tokio::runtime::Runtime,
    mode: &Mode,
    generated: Option<&easel_emulator::faults::Script>,
) {
    let scale = scale(mode);
    let cli = Cli::new();
    let budget = scale.jobs as i64 * BUDGET_PER_JOB_MICROS;
    let config = match mode {
        // A byte limit inside the range of sizes 128x128 offline renders
        // take (about 20.6 to 22.1 kB): some outputs pass and some fail,
        // also a later output of a job whose earlier ones were stored.
        Mode::Offline => format!(
            "monthly_budget_micros = {budget}\nmax_image_bytes = 21300\n\
             concurrency = {{ offline = 3 }}\n[offline]\nprice_per_image_micros = {PRICE_MICROS}\n"
        ),
        // Any owner/name model is priced when Replicate bills it: no budget.
        Mode::Replicate { .. } => "concurrency = { replicate = 3 }\n".to_string(),
        Mode::OpenAi { .. } => "concurrency = { openai = 3 }\n".to_string(),
    };
    std::fs::write(cli.data.path().join("config.toml"), config).expect("config");
    let config = Config::load(
        Some(cli.data.path().to_path_buf()),
        Some(cli.library.path().to_path_buf()),
    )
    .expect("config");
    let engine = match mode {
        Mode::Offline => Engine::open(config).expect("engine"),
        Mode::Replicate {
            base_url,
            token: key,
        }
        | Mode::OpenAi { base_url, key } => {
            let id = if matches!(mode, Mode::OpenAi { .. }) {
                "openai"
            } else {
                "replicate"
            };
            let mut config = config;
            config.base_urls.insert(id.into(), base_url.clone());
            let registry = easel_engine::providers::Registry::from_config(&config);
            let engine =
                Engine::open_with(config, registry, easel_engine::Keys::memory()).expect("engine");
            rt.block_on(engine.set_api_key(id, key)).expect("key");
            engine
        }
    };
    let mut rng = rand::rng();
    let mut tally = Tally::default();
    let mut workers: Vec<Worker> = (0..WORKERS)
        .map(|i| spawn_worker(&cli, mode, i == 0))
        .collect();
    tally.clock_shifts += 1;
    let (mut created, mut kills) = (0usize, 0usize);
    let started = Instant::now();
    while created < scale.jobs || kills < scale.kills {
        // Create a few jobs.
        for _ in 0..rng.random_range(2..6) {
            if created >= scale.jobs {
                break;
            }
            match rt.block_on(engine.create_job(new_job(&mut rng, mode, created))) {
                Ok(_) => {}
                Err(e) if e.kind() == easel_engine::ErrorKind::Budget => tally.budget_refusals += 1,
                Err(e) => panic!("create: {e}"),
            }
            created += 1;
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(150..450)));
        // Kill a worker now and then, and start a new one in its place.
        let kills_left = scale.kills.saturating_sub(kills);
        let jobs_left = scale.jobs.saturating_sub(created).max(1);
        if kills_left > 0 && rng.random_range(0..jobs_left.div_ceil(4).max(1)) < kills_left.max(1) {
            let w = rng.random_range(0..workers.len());
            let by_sigkill = rng.random_bool(0.6);
            signal(&workers[w].child, if by_sigkill { "KILL" } else { "INT" });
            let _ = workers[w].child.wait();
            if by_sigkill {
                tally.sigkill += 1;
            } else {
                tally.sigint += 1;
            }
            kills += 1;
            let skew = rng.random_bool(0.25);
            tally.clock_shifts += usize::from(skew);
            workers[w] = spawn_worker(&cli, mode, skew);
        }
        // Cancel or retry something.
        if rng.random_bool(0.15) {
            let jobs = rt.block_on(all_jobs(&engine));
            if let Some(j) = jobs.get(rng.random_range(0..jobs.len().max(1))) {
                if !j.status.is_terminal() && rt.block_on(engine.cancel(&j.id)).is_ok() {
                    tally.cancels += 1;
                }
            }
        }
        if rng.random_bool(0.1) {
            let jobs = rt.block_on(all_jobs(&engine));
            let retryable: Vec<&JobSummary> = jobs
                .iter()
                .filter(|j| matches!(j.status, JobStatus::Failed | JobStatus::Canceled) || j.held)
                .collect();
            if let Some(j) = retryable.get(rng.random_range(0..retryable.len().max(1))) {
                if rt.block_on(engine.retry(&j.id)).is_ok() {
                    tally.retries += 1;
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(1_800),
            "the harness is stuck"
        );
    }
    let skewed_running = workers.iter().filter(|w| w.skewed).count();
    for w in &mut workers {
        signal(&w.child, "INT");
        let _ = w.child.wait();
    }
    // One clean worker finishes whatever is left.
    let mut last = cli.cmd();
    with_provider(&mut last, mode);
    let out = last
        .env("EASEL_LEASE_MS", LEASE_MS)
        .env("EASEL_OFFLINE_LATENCY_MS", "0")
        .args(["work", "--until-idle"])
        .output()
        .expect("final worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The invariants.
    let jobs = rt.block_on(all_jobs(&engine));
    let mut v: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for k in [
        "state",
        "assets",
        "orphan_files",
        "temp_files",
        "ledger",
        "budget",
        "integrity",
        "generations",
    ] {
        v.insert(k, Vec::new());
    }
    let mut owned: HashSet<PathBuf> = HashSet::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut charged = 0i64;
    for job in &jobs {
        *counts.entry(job.status.as_str()).or_default() += usize::from(!job.held);
        *counts.entry("held").or_default() += usize::from(job.held);
        let d = rt.block_on(engine.detail(&job.id)).expect("detail");
        let settled = job.status.is_terminal()
            || (job.held && job.error_message.as_deref().is_some_and(|m| !m.is_empty()));
        if !settled {
            v.get_mut("state")
                .expect("k")
                .push(format!("{} {}", job.id, job.status));
        }
        if job.status == JobStatus::Completed {
            if d.assets.len() != job.count as usize {
                v.get_mut("assets").expect("k").push(format!(
                    "{}: {} of {}",
                    job.id,
                    d.assets.len(),
                    job.count
                ));
            }
            for a in &d.assets {
                match std::fs::read(&a.path) {
                    Ok(bytes) if hex(&Sha256::digest(&bytes)) == a.sha256 => {}
                    Ok(_) => v
                        .get_mut("assets")
                        .expect("k")
                        .push(format!("{}: sha256", a.path)),
                    Err(e) => v
                        .get_mut("assets")
                        .expect("k")
                        .push(format!("{}: {e}", a.path)),
                }
                if !std::path::Path::new(&a.thumb_path).exists() {
                    v.get_mut("assets")
                        .expect("k")
                        .push(format!("{}: no thumb", a.thumb_path));
                }
                owned.insert(PathBuf::from(&a.path));
                owned.insert(PathBuf::from(&a.thumb_path));
            }
        } else if !d.assets.is_empty() {
            v.get_mut("assets")
                .expect("k")
                .push(format!("{}: assets while {}", job.id, job.status));
        }
        // Ledger: per run, a reservation ends in exactly one charge or
        // release, except the current run of a job that is still open
        // (charged already if the provider finished it). A run is charged
        // exactly when the provider finished it: once per "provider
        // finished" line, whatever became of the run afterwards.
        let mut runs: BTreeMap<u32, (usize, usize, usize)> = BTreeMap::new();
        for e in &d.ledger {
            let r = runs.entry(e.run).or_default();
            match e.kind {
                LedgerKind::Reserve => r.0 += 1,
                LedgerKind::Charge => {
                    r.1 += 1;
                    charged += e.amount_micros;
                }
                LedgerKind::Release => r.2 += 1,
            }
        }
        for (run, (reserve, charge, release)) in runs {
            let current_open = run == job.run && !job.status.is_terminal();
            let ok = if current_open {
                release == 0 && charge <= 1
            } else if reserve == 1 {
                charge + release == 1
                    && (run != job.run || job.status != JobStatus::Completed || charge == 1)
            } else {
                charge + release == 0
            };
            if !ok {
                v.get_mut("ledger").expect("k").push(format!(
                    "{} run {run}: reserve {reserve} charge {charge} release {release} ({})",
                    job.id, job.status
                ));
            }
        }
        if d.timeline
            .iter()
            .any(|t| t.detail.contains("found at the provider"))
        {
            *counts.entry("found_after_restart").or_default() += 1;
        }
        if d.timeline
            .iter()
            .any(|t| t.detail.contains("possible duplicate"))
        {
            *counts.entry("possible_duplicates").or_default() += 1;
        }
        // A run is one generation at the provider at most: a worker killed
        // mid-submit is followed by one that finds the prediction.
        // Where the provider cannot be asked (OpenAI), a second generation
        // in a run must be marked as a possible duplicate.
        if let Some(script) = generated {
            let made = script.generations(&job.prompt);
            let marked = d
                .timeline
                .iter()
                .any(|t| t.detail.contains("possible duplicate"));
            let allowed = matches!(mode, Mode::OpenAi { .. }) && marked;
            if made > job.run && !allowed {
                v.get_mut("generations").expect("k").push(format!(
                    "{}: generated {made} times in {} runs",
                    job.id, job.run
                ));
            }
        }
        let finished = d
            .timeline
            .iter()
            .filter(|t| t.detail.starts_with("provider finished"))
            .count();
        let charges = d
            .ledger
            .iter()
            .filter(|e| e.kind == LedgerKind::Charge)
            .count();
        if charges != finished {
            v.get_mut("ledger").expect("k").push(format!(
                "{}: {charges} charges for {finished} runs the provider finished",
                job.id
            ));
        }
        if job.status == JobStatus::Completed
            && d.ledger.iter().all(|e| e.kind != LedgerKind::Charge)
        {
            v.get_mut("ledger")
                .expect("k")
                .push(format!("{}: completed, no charge", job.id));
        }
    }
    // Only the offline run sets a budget (the emulators' jobs have none).
    if matches!(mode, Mode::Offline) && charged > budget {
        v.get_mut("budget")
            .expect("k")
            .push(format!("charged {charged} > {budget}"));
    }
    let files: Vec<PathBuf> = walk(cli.library.path())
        .into_iter()
        .chain(walk(&cli.data.path().join("cache")))
        .collect();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            v.get_mut("temp_files")
                .expect("k")
                .push(f.display().to_string());
        } else if !owned.contains(&f) {
            v.get_mut("orphan_files")
                .expect("k")
                .push(f.display().to_string());
        }
    }
    let store = easel_engine::store::Store::open(engine.store_path(), Duration::from_secs(5))
        .expect("store");
    let integrity = store
        .read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?))
        .expect("integrity");
    if integrity != "ok" {
        v.get_mut("integrity").expect("k").push(integrity);
    }
    let violations: Vec<String> = v
        .iter()
        .map(|(k, list)| format!("{k}={}", list.len()))
        .collect();
    let label = match mode {
        Mode::Offline => "offline",
        Mode::Replicate { .. } => "replicate emulator",
        Mode::OpenAi { .. } => "openai emulator",
    };
    println!(
        "kill-harness ({label}): creates={created} jobs={} refused_by_budget={} {} kills: SIGKILL={} SIGINT={} \
         clock_shifts={} (skewed at the end: {skewed_running}) cancels={} retries={} \
         violations: {}",
        jobs.len(),
        tally.budget_refusals,
        counts
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" "),
        tally.sigkill,
        tally.sigint,
        tally.clock_shifts,
        tally.cancels,
        tally.retries,
        violations.join(" ")
    );
    for (k, list) in &v {
        assert!(list.is_empty(), "{k}: {:#?}", &list[..list.len().min(20)]);
    }
    assert!(counts.get("completed").copied().unwrap_or(0) > 0);
    if matches!(mode, Mode::Offline) {
        assert!(
            counts.get("failed").copied().unwrap_or(0) > 0,
            "no output failed: tune max_image_bytes"
        );
    }
}
