//! The main window's life: bring it back (second launch, tray click) and
//! close it to the tray while jobs still run, so closing never stops work.

use crate::activity::Activity;
use easel_engine::Engine;
use tauri::{AppHandle, Manager, Runtime, Window, WindowEvent};
use tauri_plugin_window_state::{AppHandleExt, StateFlags};

pub const MAIN: &str = "main";

/// Show, un-minimize and focus the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window(MAIN) else {
        return;
    };
    for result in [window.unminimize(), window.show(), window.set_focus()] {
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot bring the window back");
        }
    }
}

/// What closing the window does: with jobs waiting or running, hide it and
/// keep working in the tray; otherwise close it, which quits the app.
pub fn on_event(window: &Window, event: &WindowEvent) {
    if window.label() != MAIN {
        return;
    }
    if let WindowEvent::CloseRequested { api, .. } = event {
        let app = window.app_handle();
        // Remember size and position now: a hidden window is not saved at exit.
        if let Err(e) = app.save_window_state(StateFlags::all()) {
            tracing::warn!(error = %e, "cannot save the window's size and position");
        }
        // Ask the database, not the bridge's last count: a job created a
        // moment ago must keep the app running too. A sub-millisecond read.
        let activity = app.state::<Activity>();
        if let Some(engine) = app.try_state::<Engine>() {
            match tauri::async_runtime::block_on(engine.inner().active_counts()) {
                Ok(counts) => {
                    if activity.set(counts) {
                        crate::tray::update(app, counts);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot count running jobs"),
            }
        }
        if activity.busy() {
            api.prevent_close();
            if let Err(e) = window.hide() {
                tracing::warn!(error = %e, "cannot hide the window");
            }
            tracing::info!("window closed with jobs running: still running in the tray");
        }
    }
}
