// Easel desktop shell. It holds no business logic: commands parse input, call
// the engine and map errors; the engine's job events are bridged to the UI.

// Keep release builds from opening a console window on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod activity;
mod commands;
mod events;
mod handover;
mod image_protocol;
mod image_scope;
mod notices;
mod tray;
mod window;

use easel_engine::{Config, Engine, EngineError, ErrorPayload, RunUntil};
use tauri::{AppHandle, Manager};
use tracing_subscriber::EnvFilter;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("EASEL_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let context = tauri::generate_context!();
    // A second launch brings the running app's window back and ends here,
    // before the window toolkit starts.
    if handover::to_running_app(&context.config().identifier) {
        return;
    }

    let app = tauri::Builder::default()
        // First, so a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::show_main(app);
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .manage(activity::Activity::default())
        .manage(image_scope::ImageScope::default())
        .register_asynchronous_uri_scheme_protocol(image_protocol::SCHEME, image_protocol::handle)
        .on_window_event(window::on_event)
        .setup(|app| {
            // A configuration or database that stops the engine is shown in
            // the window (not only on stderr): the app opens with the reason.
            if let Err(e) = start_engine(app.handle()) {
                tracing::error!(error = %e, "cannot start the engine");
                app.manage(commands::StartupFailure(ErrorPayload::from(&e)));
            }
            if let Err(e) = tray::install(app.handle()) {
                // Without a tray (no status-notifier host) the app still
                // works; closing the window while jobs run only hides it.
                tracing::warn!(error = %e, "no tray icon");
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::create_job,
            commands::create_group,
            commands::group_jobs,
            commands::import_reference,
            commands::list_jobs,
            commands::get_job,
            commands::cancel_job,
            commands::retry_job,
            commands::get_queue,
            commands::move_to_front,
            commands::set_queue_paused,
            commands::delete_jobs,
            commands::undo_delete,
            commands::delete_image,
            commands::undo_delete_image,
            commands::set_image_favorite,
            commands::reference_from_image,
            commands::copy_image,
            commands::prompt_history,
            commands::list_boards,
            commands::create_board,
            commands::rename_board,
            commands::delete_board,
            commands::add_to_board,
            commands::remove_from_board,
            commands::images_on_board,
            commands::set_prompt_favorite,
            commands::set_favorite,
            commands::list_providers,
            commands::set_api_key,
            commands::delete_api_key,
            commands::test_api_key,
            commands::startup_report,
            commands::webhook_status,
            commands::startup_failure,
            commands::get_settings,
            commands::save_settings,
            commands::reveal_path,
            commands::open_path,
            commands::pick_folder,
        ])
        .build(context);

    match app {
        Ok(app) => app.run(|app, event| {
            if let tauri::RunEvent::Exit = event {
                // Quit is not a crash: the next start resumes running jobs
                // at once instead of waiting for their leases to lapse.
                if let Some(engine) = app.try_state::<Engine>() {
                    let engine = engine.inner().clone();
                    if let Err(e) = tauri::async_runtime::block_on(engine.release_leases()) {
                        tracing::warn!(error = %e, "cannot release running jobs at exit");
                    }
                }
            }
        }),
        Err(err) => {
            eprintln!("easel: failed to start: {err}");
            std::process::exit(1);
        }
    }
}

/// Load the configuration, open the engine, start its worker and the event
/// bridge.
fn start_engine(app: &AppHandle) -> Result<(), EngineError> {
    // EASEL_DATA_DIR / EASEL_LIBRARY_DIR, then config.toml, then defaults.
    let config = Config::load(None, None)?;
    for warning in &config.warnings {
        tracing::warn!(warning = %warning, "configuration");
    }
    // The window may load thumbnails and the library's dated folders
    // (images saved before the library folder was moved stay there too).
    let scope = image_scope::of(app);
    scope.allow_dir(&config.thumbs_dir());
    scope.allow_dir(&config.previews_dir());
    scope.allow_library(&config.library_dir);
    for dir in &config.earlier_library_dirs {
        scope.allow_library(dir);
    }
    let engine = Engine::open(config)?;
    app.manage(engine.clone());
    let worker = engine.clone();
    tauri::async_runtime::spawn(async move {
        // Recovers whatever a previous run left, then runs new jobs.
        if let Err(e) = worker.run_worker(RunUntil::Forever).await {
            tracing::error!(error = %e, "the job worker stopped");
        }
    });
    tauri::async_runtime::spawn(events::bridge(app.clone(), engine));
    Ok(())
}
