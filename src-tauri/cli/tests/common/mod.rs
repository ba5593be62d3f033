//! Runs the real `easel-cli` binary against temporary folders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

pub struct Cli {
    pub data: TempDir,
    pub library: TempDir,
    /// This test's own keychain entries (EASEL_KEYCHAIN_SERVICE).
    pub keychain_service: String,
    /// More environment for every command (a provider's base URL and key).
    pub env: Vec<(String, String)>,
}

impl Default for Cli {
    fn default() -> Self {
        Cli::new()
    }
}

impl Cli {
    pub fn new() -> Cli {
        let data = tempfile::tempdir().expect("tmp data");
        let keychain_service = format!(
            "easel-cli-test-{}",
            data.path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        Cli {
            data,
            library: tempfile::tempdir().expect("tmp library"),
            keychain_service,
            env: Vec::new(),
        }
    }

    /// A Cli whose commands reach an OpenAI (emulator) at `base_url` with
    /// `key` from the environment.
    pub fn for_openai(base_url: &str, key: &str) -> Cli {
        let mut cli = Cli::new();
        cli.env
            .push(("EASEL_OPENAI_BASE_URL".into(), base_url.into()));
        cli.env.push(("OPENAI_API_KEY".into(), key.into()));
        cli
    }

    /// `easel-cli generate ARGS` (without `--wait` or `--json`): the new
    /// job's id, the first line it prints.
    pub fn generate(&self, args: &[&str]) -> String {
        let mut all = vec!["generate"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        out.lines().next().unwrap_or_default().trim().to_string()
    }

    /// Queue a 256×256 OpenAI generation of `prompt`; the job's id.
    pub fn generate_openai(&self, prompt: &str) -> String {
        self.generate(&[
            "--provider",
            "openai",
            "--prompt",
            prompt,
            "--size",
            "256x256",
        ])
    }

    pub fn cmd(&self) -> Command {
        // EASEL_TEST_CLI_BIN runs the same tests against another build (to
        // show a regression test fails on an older easel-cli).
        let bin = std::env::var_os("EASEL_TEST_CLI_BIN")
            .map_or_else(|| env!("CARGO_BIN_EXE_easel-cli").into(), PathBuf::from);
        let mut c = Command::new(bin);
        c.env("EASEL_DATA_DIR", self.data.path())
            .env("EASEL_LIBRARY_DIR", self.library.path())
            .env("EASEL_OFFLINE_LATENCY_MS", "300")
            .env("EASEL_LEASE_MS", "600")
            .env("EASEL_KEYCHAIN_SERVICE", &self.keychain_service)
            .env_remove("EASEL_CRASHPOINT")
            .env_remove("EASEL_LOG")
            // A developer's own keys and endpoints never reach a test.
            .env_remove("OPENAI_API_KEY")
            .env_remove("REPLICATE_API_TOKEN")
            .env_remove("EASEL_OPENAI_BASE_URL")
            .env_remove("EASEL_REPLICATE_BASE_URL");
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run easel-cli")
    }

    /// Run and require exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "easel-cli {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    pub fn library_files(&self) -> Vec<PathBuf> {
        walk(self.library.path())
    }
}

/// Start `work` stopped at crash point `point` (`EASEL_CRASHPOINT`) and
/// wait until it gets there; the caller kills or signals it.
pub fn work_at(cli: &Cli, point: &str) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut child = cli
        .cmd()
        .env("EASEL_CRASHPOINT", point)
        .args(["work"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn worker");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("EASEL_CRASHPOINT") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(60));
    let line = line.unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("worker never reached {point}")
    });
    assert!(line.contains(point), "{line}");
    child
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
