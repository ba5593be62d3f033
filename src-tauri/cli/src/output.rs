//! How the CLI prints jobs: one line per job, or JSON.

use easel_engine::providers::{ModelInfo, ParamKind, SizeRule};
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

/// A model as `easel-cli models` prints it.
pub fn model_text(provider: &str, m: &ModelInfo) -> String {
    let id = if m.id.is_empty() { "OWNER/NAME" } else { &m.id };
    let mut out = format!("{provider}  {id}  {}\n", m.name);
    let sizes = match &m.sizes {
        SizeRule::Free {
            min_side,
            max_side,
            multiple,
            max_pixels,
            max_aspect,
        } => {
            let mut s = format!("any WxH, sides {min_side}..{max_side} in steps of {multiple}");
            if let Some(p) = max_pixels {
                s += &format!(", at most {p} pixels");
            }
            if let Some(a) = max_aspect {
                s += &format!(", aspect up to {a}:1");
            }
            s
        }
        SizeRule::Fixed { sizes } | SizeRule::Aspect { sizes, .. } => sizes
            .iter()
            .map(|o| match &o.tier {
                Some(tier) => format!("{}x{} ({} {tier})", o.width, o.height, o.label),
                None => format!("{}x{} ({})", o.width, o.height, o.label),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    out += &format!("  --size: {sizes}\n");
    out += &format!(
        "  --count: 1..{}  references: {}  negative prompt: {}\n",
        m.max_count,
        m.max_reference_images,
        if m.negative_prompt { "yes" } else { "no" }
    );
    for p in &m.params {
        let (values, default) = match &p.kind {
            ParamKind::Choice { options, default } => (
                options
                    .iter()
                    .map(|o| o.value.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
                default.clone(),
            ),
            ParamKind::Int { min, max, default } => (format!("{min}..{max}"), default.to_string()),
            ParamKind::Bool { default } => ("true|false".into(), default.to_string()),
        };
        out += &format!(
            "  --param {}={values}  ({}, default {default})\n",
            p.id, p.name
        );
    }
    let price = m.price.per_image_micros as f64 / 1e6;
    out += &match m.price.per_token {
        Some(_) => format!("  price: about ${price:.3} per image (billed by token)\n"),
        None if m.price.per_image_micros == 0 => "  price: not known until billed\n".into(),
        None => format!("  price: ${price:.3} per image\n"),
    };
    out
}
