//! Provider keys in the real OS keychain: GNOME Keyring's Secret Service on
//! a private session bus (`scripts/with-keyring.sh`, which the test command
//! uses). The key is checked from outside the app with `secret-tool`, the
//! Secret Service's own client, so the test sees what the keychain holds.

mod common;

use common::keyed::ACCEPTED;
use common::{files_containing, keyed_env, run_keyed_job};
use easel_engine::secrets::{KeyStore, OsKeyStore};
use easel_engine::{KeyState, Keys};
use std::process::Command;

/// What `secret-tool` finds under Easel's attributes (None: no item).
fn lookup(service: &str, provider: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", service, "username", provider])
        .output()
        .expect("secret-tool runs (Debian package libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).expect("utf-8"))
}

fn require_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no session bus: run the tests through scripts/with-keyring.sh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_stored_used_and_removed_in_the_os_keychain() {
    require_secret_service();
    // A service name of its own, so runs never meet each other's entries.
    let service = format!("studio.easel.test.{}", uuid::Uuid::now_v7().simple());
    let (t, provider) = keyed_env(Keys::os(&service));
    let infos = t.engine.provider_infos().await;
    let keyed = infos.iter().find(|p| p.id == "keyed").expect("listed");
    assert_eq!(keyed.key, KeyState::Missing, "{:?}", keyed.key);
    assert_eq!(lookup(&service, "keyed"), None);

    let info = t
        .engine
        .set_api_key("keyed", ACCEPTED)
        .await
        .expect("stored");
    assert_eq!(info.key, KeyState::Stored);
    assert_eq!(lookup(&service, "keyed").as_deref(), Some(ACCEPTED));

    // A second engine on the same keychain (an app restart) finds the key.
    let fresh = OsKeyStore::new(service.clone());
    let read = tokio::task::spawn_blocking(move || fresh.get("keyed"))
        .await
        .expect("join")
        .expect("read");
    assert_eq!(read.as_ref().map(|k| k.expose()), Some(ACCEPTED));

    run_keyed_job(&t, &provider, "r1").await;

    let leaked = files_containing(&[t.data.path(), t.library.path()], ACCEPTED);
    assert!(leaked.is_empty(), "the key is in {leaked:?}");

    let info = t.engine.delete_api_key("keyed").await.expect("removed");
    assert_eq!(info.key, KeyState::Missing);
    assert_eq!(lookup(&service, "keyed"), None, "gone from the keychain");
}
