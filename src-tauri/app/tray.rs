//! The tray icon: shows how many jobs run, brings the window back, quits.

use crate::activity::summary;
use crate::window::show_main;
use easel_engine::ActiveCounts;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

const TRAY: &str = "main";

/// The menu's status line, kept to update its text.
pub struct TrayStatus(MenuItem<Wry>);

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(
        app,
        "status",
        summary(ActiveCounts::default()),
        false,
        None::<&str>,
    )?;
    let show = MenuItem::with_id(app, "show", "Show Easel", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Easel", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&status, &PredefinedMenuItem::separator(app)?, &show, &quit],
    )?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip(summary(ActiveCounts::default()))
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => show_main(app),
            // Jobs still running are picked up again at the next launch.
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_main(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayStatus(status));
    Ok(())
}

/// Show the counts in the tooltip, the label beside the icon and the menu.
pub fn update(app: &AppHandle, counts: ActiveCounts) {
    let text = summary(counts);
    if let Some(status) = app.try_state::<TrayStatus>() {
        if let Err(e) = status.0.set_text(&text) {
            tracing::debug!(error = %e, "cannot update the tray menu");
        }
    }
    if let Some(tray) = app.tray_by_id(TRAY) {
        let title = (counts.running > 0).then(|| counts.running.to_string());
        let results = [tray.set_tooltip(Some(&text)), tray.set_title(title)];
        for e in results.into_iter().filter_map(Result::err) {
            tracing::debug!(error = %e, "cannot update the tray icon");
        }
    }
}
