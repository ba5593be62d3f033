//! A large library written straight into an engine's database (the schema
#![allow(dead_code)] // each bench uses its part
//! comes from opening an engine first), for the benches that need size:
//! gallery queries at a million jobs, recovery of thousands.

use rusqlite::{params, Connection};
use std::path::Path;

/// Words prompts are made of; "lighthouse" and "red fox" are the searches.
const WORDS: &[&str] = &[
    "portrait",
    "landscape",
    "city",
    "forest",
    "ocean",
    "mountain",
    "castle",
    "garden",
    "robot",
    "dragon",
    "cat",
    "dog",
    "owl",
    "river",
    "desert",
    "storm",
    "sunset",
    "dawn",
    "neon",
    "watercolor",
    "oil",
    "painting",
    "photo",
    "cinematic",
    "soft",
    "light",
    "golden",
    "hour",
    "misty",
    "ancient",
    "futuristic",
    "tiny",
    "giant",
    "glass",
    "stone",
    "wooden",
    "cozy",
    "cabin",
    "snow",
    "rain",
    "night",
    "stars",
    "moon",
    "market",
    "street",
    "harbor",
    "boat",
    "train",
    "bridge",
    "tower",
    "library",
    "kitchen",
    "flowers",
    "autumn",
    "spring",
    "winter",
    "summer",
    "fog",
    "ink",
    "sketch",
    "pastel",
];

const PROVIDERS: &[(&str, &[&str])] = &[
    ("openai", &["gpt-image-1", "dall-e-3"]),
    ("replicate", &["flux-schnell", "flux-dev", "sdxl"]),
    ("fal", &["flux-pro", "recraft-v3"]),
    ("gemini", &["imagen-4"]),
    ("offline", &["offline-sketch", "offline-gradient"]),
];

/// A small deterministic generator (xorshift), so every run builds the
/// same library.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a generated job looks like.
pub struct Shape {
    pub status: &'static str,
    pub provider: &'static str,
    pub model: &'static str,
    pub prompt: String,
    pub favorite: bool,
}

/// The mix of a real library: mostly completed, a few failed and canceled,
/// 2 % favorites, one prompt in twenty about a lighthouse, one in a
/// hundred with a red fox, one in ten thousand with a zeppelin.
pub fn gallery_shape(rng: &mut Rng) -> Shape {
    let status = match rng.below(100) {
        0..=2 => "failed",
        3 => "canceled",
        _ => "completed",
    };
    let (provider, models) = PROVIDERS[rng.below(PROVIDERS.len() as u64) as usize];
    let model = models[rng.below(models.len() as u64) as usize];
    let mut words: Vec<&str> = (0..6 + rng.below(7))
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect();
    if rng.below(20) == 0 {
        words.insert(0, "lighthouse");
    }
    if rng.below(100) == 0 {
        words.extend(["red", "fox"]);
    }
    if rng.below(10_000) == 0 {
        words.push("zeppelin");
    }
    Shape {
        status,
        provider,
        model,
        prompt: words.join(" "),
        favorite: rng.below(50) == 0,
    }
}

/// Insert `n` jobs, one per `step_ms` ending at `newest_ms`, in one
/// transaction (the FTS index fills through its trigger, as in the app).
/// `shape` decides each job; `lease` marks running ones with a dead
/// worker's lease.
pub fn fill(
    db: &Path,
    n: u64,
    newest_ms: i64,
    step_ms: i64,
    mut shape: impl FnMut(u64) -> Shape,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO jobs (id, request_id, status, provider, model, prompt, width, height, \
             count, seed, created_at, updated_at, max_attempts, next_run_at, seq, favorite, \
             asset_count, thumb_path, image_path, attempt_count, lease_owner, lease_expires_at, \
             lease_epoch, handle) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1024, 1024, 1, ?7, ?8, ?8, 3, ?8, ?7, ?9, ?10, ?11, \
             ?12, ?13, ?14, ?15, ?16, ?17)",
        )?;
        // A running job's provider call, written before it was sent.
        let mut attempt = tx.prepare(
            "INSERT INTO attempts (job_id, number, provider, model, started_at, sent_at, handle) \
             VALUES (?1, 1, ?2, ?3, ?4, ?4, 'off1.' || ?4 || '.' || ?1)",
        )?;
        for i in 0..n {
            let s = shape(i);
            let at = newest_ms - (n - 1 - i) as i64 * step_ms;
            let id = format!("{at:013}-{i:08x}");
            let done = s.status == "completed";
            let running = matches!(s.status, "processing" | "submitting" | "saving");
            insert.execute(params![
                id,
                format!("req-{id}"),
                s.status,
                s.provider,
                s.model,
                s.prompt,
                i as i64 + 1,
                at,
                s.favorite && done,
                if done { 1 } else { 0 },
                done.then(|| format!("thumbs/{id}.png")),
                done.then(|| format!("library/{id}.png")),
                if s.status == "queued" { 0 } else { 1 },
                running.then_some("a-worker-that-died"),
                running.then_some(at + 30_000),
                if running { 1 } else { 0 },
                running.then(|| format!("off1.{at}.{id}")),
            ])?;
            if running {
                attempt.execute(params![id, s.provider, s.model, at])?;
            }
        }
        tx.execute(
            "UPDATE seq_counter SET value = (SELECT MAX(seq) FROM jobs) WHERE id = 1",
            [],
        )?;
        // Index the prompts as the app would have by now.
        easel_engine::store::search_index::catch_up(&tx)?;
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}
