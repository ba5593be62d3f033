//! One function per subcommand: parse, call the engine, print.

use crate::output;
use clap::Args;
use easel_engine::jobs::validate::parse_size;
use easel_engine::{Engine, EngineError, JobStatus, ListQuery, NewJob, RunUntil};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long)]
    prompt: String,
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    model: Option<String>,
    /// WIDTHxHEIGHT
    #[arg(long, default_value = "1024x1024")]
    size: String,
    #[arg(long, default_value_t = 1)]
    count: u32,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    negative: Option<String>,
    /// A reference image (PNG, JPEG or WebP) for models that take them
    /// (offline: easel-remix-1); repeat for several.
    #[arg(long = "reference", value_name = "FILE")]
    references: Vec<std::path::PathBuf>,
    /// A setting of the model's own, as NAME=VALUE (`easel-cli models`
    /// lists them); repeat for several.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Idempotency key: the same id twice yields the same job.
    #[arg(long)]
    request_id: Option<String>,
    #[arg(long)]
    json: bool,
    /// Also run a worker here and return when the job is finished.
    #[arg(long)]
    wait: bool,
}

pub async fn generate(engine: &Engine, a: GenerateArgs) -> Result<ExitCode, EngineError> {
    let (width, height) = parse_size(&a.size)?;
    let mut params = easel_engine::Params::new();
    for p in &a.params {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| EngineError::InvalidInput(format!("--param {p:?} is not NAME=VALUE")))?;
        // As text: the engine reads it as the parameter's type.
        params.insert(
            name.trim().to_string(),
            easel_engine::ParamValue::Text(value.trim().to_string()),
        );
    }
    let mut reference_ids = Vec::new();
    for path in &a.references {
        let bytes = std::fs::read(path).map_err(|source| EngineError::Io {
            path: path.clone(),
            source,
        })?;
        reference_ids.push(engine.import_reference(bytes).await?.id);
    }
    let job = engine
        .create_job(NewJob {
            request_id: a
                .request_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            prompt: a.prompt,
            negative_prompt: a.negative,
            provider: a.provider,
            model: a.model,
            width,
            height,
            count: a.count,
            seed: a.seed,
            reference_ids,
            params,
        })
        .await?;
    if !a.wait {
        if a.json {
            output::json(&job);
        } else {
            println!("{}", job.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !a.json {
        println!("{}", job.id);
    }
    if !run_until_signal(engine, RunUntil::Settled(vec![job.id.clone()])).await? {
        return Ok(ExitCode::from(130));
    }
    let detail = engine.detail(&job.id).await?;
    if a.json {
        output::json(&detail);
    } else {
        println!("{}", detail.job.status);
        for asset in &detail.assets {
            println!("{}", asset.path);
        }
        if let Some(msg) = &detail.job.error_message {
            eprintln!(
                "{}: {msg}",
                detail.job.error_code.as_deref().unwrap_or("error")
            );
        }
    }
    Ok(if detail.job.status == JobStatus::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Args)]
pub struct ListArgs {
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    provider: Option<String>,
    /// Search prompts (every word, as a prefix).
    #[arg(long)]
    search: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

pub async fn list(engine: &Engine, a: ListArgs) -> Result<ExitCode, EngineError> {
    let status = a
        .status
        .map(|s| s.parse::<JobStatus>())
        .transpose()
        .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
    let jobs = engine
        .list(ListQuery {
            status,
            provider: a.provider,
            search: a.search,
            limit: Some(a.limit),
            ..ListQuery::default()
        })
        .await?;
    if a.json {
        output::json(&jobs);
    } else {
        for job in &jobs {
            output::job_line(job);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn show(engine: &Engine, id: &str, json: bool) -> Result<ExitCode, EngineError> {
    let detail = engine.detail(id).await?;
    if json {
        output::json(&detail);
    } else {
        output::detail(&detail);
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows the database rather than this process's events, so it sees what
/// any process (the app, another CLI) does.
pub async fn watch(engine: &Engine, json: bool) -> Result<ExitCode, EngineError> {
    let mut feed = engine.changes(engine.current_seq().await?);
    loop {
        let next = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            next = feed.next(Duration::from_millis(200)) => next?,
        };
        let Some(events) = next else {
            return Ok(ExitCode::SUCCESS);
        };
        for event in events {
            if json {
                output::json_line(&event);
            } else {
                let job = &event.job;
                println!(
                    "{} {} {} {}",
                    job.seq,
                    job.id,
                    job.status,
                    job.progress
                        .map(|p| format!("{:.0}%", p * 100.0))
                        .unwrap_or_default()
                );
            }
        }
    }
}

pub async fn work(engine: &Engine, until_idle: bool) -> Result<ExitCode, EngineError> {
    let until = if until_idle {
        RunUntil::Idle
    } else {
        RunUntil::Forever
    };
    run_until_signal(engine, until).await?;
    Ok(ExitCode::SUCCESS)
}

/// Run the worker until `until` or until Ctrl-C / SIGTERM. A signal is a
/// clean exit, not a crash: this process's leases are handed back so the
/// next worker resumes its jobs at once without counting a crash. Returns
/// false when a signal ended it.
async fn run_until_signal(engine: &Engine, until: RunUntil) -> Result<bool, EngineError> {
    let worker = engine.run_worker(until);
    tokio::pin!(worker);
    tokio::select! {
        r = &mut worker => { r?; return Ok(true); }
        () = shutdown_signal() => {}
    }
    // Let runners reach a safe point (a save finishes or is undone), then
    // hand the jobs back. A second signal stops at once.
    engine.stop();
    tokio::select! {
        r = &mut worker => r?,
        () = shutdown_signal() => {}
    }
    let released = engine.release_leases().await?;
    eprintln!("stopped; handed {released} running job(s) back");
    Ok(false)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The models each provider offers: sizes, limits, parameters and price.
pub fn models(engine: &Engine, provider: Option<&str>, json: bool) -> ExitCode {
    let providers: Vec<_> = engine
        .providers()
        .into_iter()
        .filter(|(id, _)| provider.is_none_or(|p| p == *id))
        .collect();
    if json {
        let value: Vec<_> = providers
            .iter()
            .map(|(id, caps)| serde_json::json!({"provider": id, "capabilities": caps}))
            .collect();
        output::json(&value);
        return ExitCode::SUCCESS;
    }
    for (id, caps) in &providers {
        for m in &caps.models {
            print!("{}", output::model_text(id, m));
        }
        if let Some(other) = &caps.other_models {
            print!("{}", output::model_text(id, other));
        }
    }
    ExitCode::SUCCESS
}
