//! A keychain that starts after Easel (a session whose keyring daemon comes
//! up late): the first ask says the keychain is unavailable, and once it is
//! up the next ask works, without restarting Easel. Its own test binary,
//! because it points this process at a session bus of its own.

use easel_engine::{ApiKey, KeyState, Keys};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the process when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn secrets_owned(address: &str) -> bool {
    Command::new("dbus-send")
        .args([
            &format!("--bus={address}"),
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        .unwrap_or(false)
}

fn start_keyring(dir: &Path, address: &str) -> (Reaped, Reaped) {
    let bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", &format!("--address={address}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon runs");
    let bus = Reaped(bus);
    let socket = dir.join("bus");
    wait_for("the session bus", || socket.exists());
    for sub in ["data", "runtime"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_RUNTIME_DIR", dir.join("runtime"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon runs");
    let mut stdin = keyring.stdin.take().expect("stdin");
    stdin.write_all(b"easel-late-keyring").expect("password");
    drop(stdin);
    let keyring = Reaped(keyring);
    wait_for("the Secret Service", || secrets_owned(address));
    (bus, keyring)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_that_starts_late_is_found_without_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let address = format!("unix:path={}", dir.path().join("bus").display());
    // The only test in this binary, and nothing has used the bus yet.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &address);
    let service = format!("studio.easel.test.{}", uuid::Uuid::now_v7().simple());
    let keys = Keys::os(&service);

    let state = keys.state("acme", true).await;
    let KeyState::Unavailable { message } = state else {
        panic!("no bus yet, but the key state is {state:?}");
    };
    assert!(message.contains("keychain is not available"), "{message}");

    let (_bus, _keyring) = start_keyring(dir.path(), &address);
    assert_eq!(keys.state("acme", true).await, KeyState::Missing);
    let key = ApiKey::parse("sk-late-1").expect("valid");
    keys.set("acme", key.clone()).await.expect("stored");
    assert_eq!(keys.state("acme", true).await, KeyState::Stored);
    // A fresh handle (a new connection) reads it back from the keychain.
    let read = Keys::os(&service).get("acme").await.expect("read");
    assert_eq!(read, Some(key));
}
