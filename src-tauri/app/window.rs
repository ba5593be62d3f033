//! The main window's life: bring it back (second launch, tray click) and
//! close it to the tray while jobs still run, so closing never stops work.

use crate::activity::Activity;
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
pub fn on_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    if window.label() != MAIN {
        return;
    }
    if let WindowEvent::CloseRequested { api, .. } = event {
        let app = window.app_handle();
        // Remember size and position now: a hidden window is not saved at exit.
        if let Err(e) = app.save_window_state(StateFlags::all()) {
            tracing::warn!(error = %e, "cannot save the window's size and position");
        }
        let busy = app.state::<Activity>().busy();
        if busy {
            api.prevent_close();
            if let Err(e) = window.hide() {
                tracing::warn!(error = %e, "cannot hide the window");
            }
            tracing::info!("window closed with jobs running: still running in the tray");
        }
    }
}
