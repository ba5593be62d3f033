// Easel desktop shell. It holds no business logic: commands parse input, call
// the engine and map errors; the engine's job events are bridged to the UI.

// Keep release builds from opening a console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod events;

use easel_engine::{Config, Engine, RunUntil};
use tauri::Manager;
use tracing_subscriber::EnvFilter;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("EASEL_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let app = tauri::Builder::default()
        .setup(|app| {
            // EASEL_DATA_DIR / EASEL_LIBRARY_DIR, then config.toml, then defaults.
            let engine = Engine::open(Config::load(None, None)?)?;
            app.manage(engine.clone());
            let worker = engine.clone();
            tauri::async_runtime::spawn(async move {
                // Recovers whatever a previous run left, then runs new jobs.
                if let Err(e) = worker.run_worker(RunUntil::Forever).await {
                    tracing::error!(error = %e, "the job worker stopped");
                }
            });
            tauri::async_runtime::spawn(events::bridge(app.handle().clone(), engine));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::create_job,
            commands::list_jobs,
            commands::get_job,
            commands::cancel_job,
            commands::retry_job,
        ])
        .build(tauri::generate_context!());

    match app {
        Ok(app) => app.run(|_app, _event| {}),
        Err(err) => {
            eprintln!("easel: failed to start: {err}");
            std::process::exit(1);
        }
    }
}
