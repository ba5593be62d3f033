//! A second launch hands over to the running Easel before Tauri starts.
//!
//! Why not only the single-instance plugin: it finds the running app from
//! inside Tauri's setup, after GTK is up, and then calls `exit` with GTK's
//! threads alive; under load that exit crashed now and then (SIGSEGV, seen in
//! the desktop tests). Asking first, with nothing open but a D-Bus
//! connection, lets a second launch return from `main` normally. The plugin
//! stays: the running app answers through it, and it still settles two
//! launches that race past this check together.

#[cfg(target_os = "linux")]
use std::time::Duration;

/// How long the running app may take to answer before this launch gives up
/// asking and starts normally (where the plugin asks again).
#[cfg(target_os = "linux")]
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// True when a running Easel took this launch (and showed its window).
#[cfg(target_os = "linux")]
pub fn to_running_app(identifier: &str) -> bool {
    let (name, path) = plugin_address(identifier);
    let connection = match zbus::blocking::connection::Builder::session()
        .map(|b| b.method_timeout(ANSWER_WITHIN))
        .and_then(|b| b.build())
    {
        Ok(connection) => connection,
        Err(e) => {
            tracing::debug!(error = %e, "no session bus: starting without a handover check");
            return false;
        }
    };
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cwd = std::env::current_dir()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    match connection.call_method(
        Some(name.as_str()),
        path.as_str(),
        Some("org.SingleInstance.DBus"),
        "ExecuteCallback",
        &(argv, cwd),
    ) {
        Ok(_) => true,
        // Usually "no such name": nothing runs yet, so this launch is the app.
        Err(e) => {
            tracing::debug!(error = %e, "no running Easel took the launch");
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn to_running_app(_identifier: &str) -> bool {
    // Elsewhere the plugin's own check exits before any window toolkit
    // threads run.
    false
}

/// The bus name and object path tauri-plugin-single-instance 2.5 serves
/// (without its `semver` feature, which this app does not enable).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn plugin_address(identifier: &str) -> (String, String) {
    let name = format!("{identifier}.SingleInstance");
    let path = format!("/{}", name.replace('.', "/").replace('-', "_"));
    (name, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_plugins() {
        assert_eq!(
            plugin_address("studio.easel.app"),
            (
                "studio.easel.app.SingleInstance".to_string(),
                "/studio/easel/app/SingleInstance".to_string()
            )
        );
        assert_eq!(plugin_address("a-b.c").1, "/a_b/c/SingleInstance");
    }
}
