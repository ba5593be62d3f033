//! `easel-cli`: the headless front end of the Easel engine, for scripts,
//! tests and power users. Its flags, output and exit codes are a contract:
//! 0 success, 2 invalid input (reason on stderr), 1 anything else.

mod commands;
mod keys;
mod output;

use clap::{Parser, Subcommand};
use easel_engine::{Config, Engine, EngineError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "easel-cli",
    version,
    about = "Easel's job engine from the command line"
)]
struct Cli {
    /// Folder for the database and settings (default: the OS data folder).
    #[arg(long, global = true, env = "EASEL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Library folder for finished images (default: Pictures/Easel).
    #[arg(long, global = true, env = "EASEL_LIBRARY_DIR")]
    library: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Queue a generation; prints the job id as soon as it is stored.
    Generate(commands::GenerateArgs),
    /// List jobs, newest first.
    List(commands::ListArgs),
    /// Show one job with its attempts, timeline, assets and ledger.
    Show {
        job: String,
        #[arg(long)]
        json: bool,
    },
    /// Print job changes as they happen, one per line.
    Watch {
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job.
    Cancel { job: String },
    /// Retry a failed or canceled job, or resume a held one.
    Retry { job: String },
    /// Run the scheduler and workers, recovering what a previous run left.
    Work {
        /// Return once no job is left to run.
        #[arg(long)]
        until_idle: bool,
    },
    /// The models each provider offers: sizes, limits, parameters, price.
    Models {
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Provider API keys: set (from stdin), check, delete, list.
    Key {
        #[command(subcommand)]
        command: keys::KeyCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Work { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EASEL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_invalid_input() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, EngineError> {
    let config = Config::load(cli.data_dir, cli.library)?;
    let engine = Engine::open(config)?;
    match cli.command {
        Command::Generate(args) => commands::generate(&engine, args).await,
        Command::List(args) => commands::list(&engine, args).await,
        Command::Show { job, json } => commands::show(&engine, &job, json).await,
        Command::Watch { json } => commands::watch(&engine, json).await,
        Command::Cancel { job } => {
            let job = engine.cancel(&job).await?;
            println!("{} {}", job.id, job.status);
            Ok(ExitCode::SUCCESS)
        }
        Command::Retry { job } => {
            let job = engine.retry(&job).await?;
            println!("{} {}", job.id, job.status);
            Ok(ExitCode::SUCCESS)
        }
        Command::Work { until_idle } => commands::work(&engine, until_idle).await,
        Command::Key { command } => keys::run(&engine, command).await,
        Command::Models { provider, json } => {
            Ok(commands::models(&engine, provider.as_deref(), json))
        }
    }
}
