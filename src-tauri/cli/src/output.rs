//! How the CLI prints jobs: one line per job, or JSON.

use easel_engine::{JobDetail, JobSummary};
use serde::Serialize;

pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub fn json_line<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

pub fn job_line(job: &JobSummary) {
    let prompt: String = job.prompt.chars().take(60).collect();
    println!(
        "{}  {:<10} {:<8} {}{}",
        job.id,
        job.status.as_str(),
        job.provider,
        prompt,
        if job.held { "  [held]" } else { "" }
    );
}

pub fn detail(d: &JobDetail) {
    let j = &d.job;
    println!("job      {}", j.id);
    println!(
        "status   {}{}",
        j.status,
        if j.held { " (held)" } else { "" }
    );
    println!("provider {} / {}", j.provider, j.model);
    println!("prompt   {}", j.prompt);
    if let Some(n) = &j.negative_prompt {
        println!("negative {n}");
    }
    println!(
        "size     {}x{} x{}  seed {}",
        j.width, j.height, j.count, j.seed
    );
    if let Some(msg) = &j.error_message {
        println!(
            "error    {}: {msg}",
            j.error_code.as_deref().unwrap_or("error")
        );
    }
    println!("attempts");
    for a in &d.attempts {
        println!(
            "  #{} {} {} {}",
            a.number,
            a.provider,
            a.outcome.as_deref().unwrap_or("in flight"),
            a.error.as_deref().unwrap_or("")
        );
    }
    println!("timeline");
    for t in &d.timeline {
        let from = t.from_status.map(|s| s.as_str()).unwrap_or("-");
        println!("  {} {} -> {}  {}", t.seq, from, t.to_status, t.detail);
    }
    println!("assets");
    for a in &d.assets {
        println!(
            "  {} {}x{} {} bytes sha256 {}",
            a.path, a.width, a.height, a.bytes, a.sha256
        );
    }
    println!("ledger");
    for l in &d.ledger {
        println!(
            "  run {} {:?} {} micro-dollars",
            l.run, l.kind, l.amount_micros
        );
    }
}
