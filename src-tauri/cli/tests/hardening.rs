//! Regression tests for the engine-hardening defects, each through real
//! `easel-cli` processes on one data folder: self-takeover under short
//! leases, files left by a cancel, budget races, request ids, concurrent
//! opens and clean exits.

mod common;

use common::{walk, work_at, Cli};
use sha2::{Digest, Sha256};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn job_id(out: &str) -> String {
    out.trim().lines().next().unwrap_or_default().to_string()
}

fn write_config(cli: &Cli, toml: &str) {
    std::fs::write(cli.data.path().join("config.toml"), toml).expect("config");
}

fn thumbnails(cli: &Cli) -> Vec<std::path::PathBuf> {
    walk(&cli.data.path().join("cache"))
}

/// Every asset row's file exists with its sha256, and the library and the
/// thumbnail cache hold nothing else.
fn check_files_match_assets(cli: &Cli, detail: &serde_json::Value) {
    let assets = detail["assets"].as_array().expect("assets");
    for a in assets {
        let path = a["path"].as_str().expect("path");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            hex(&Sha256::digest(&bytes)),
            a["sha256"].as_str().expect("sha")
        );
        assert!(std::path::Path::new(a["thumb_path"].as_str().expect("thumb")).exists());
    }
    let mut files: Vec<String> = cli
        .library_files()
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut named: Vec<String> = assets
        .iter()
        .filter_map(|a| a["path"].as_str().map(str::to_string))
        .collect();
    named.sort();
    assert_eq!(files, named, "library files vs asset rows");
    assert_eq!(thumbnails(cli).len(), assets.len(), "{:?}", thumbnails(cli));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn short_leases_never_make_a_process_take_over_its_own_job() {
    // The provider takes longer than several leases: renewals must keep up
    // and a late one must never let this process take its own job over.
    for (lease, runs) in [("40", 4), ("30", 4)] {
        for run in 0..runs {
            let cli = Cli::new();
            let out = cli
                .cmd()
                .env("EASEL_LEASE_MS", lease)
                .env("EASEL_OFFLINE_LATENCY_MS", "250")
                .args([
                    "generate",
                    "--prompt",
                    "a harbour at dusk",
                    "--size",
                    "512x512",
                    "--count",
                    "4",
                    "--seed",
                    "5",
                    "--wait",
                ])
                .output()
                .expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "lease {lease} run {run}: {stderr}");
            let id = job_id(&String::from_utf8_lossy(&out.stdout));
            let d = cli.json(&["show", &id, "--json"]);
            assert_eq!(d["job"]["status"], "completed", "lease {lease}: {d:#}");
            assert_eq!(d["job"]["held"], false, "held although nothing crashed");
            assert_eq!(d["job"]["crash_count"], 0, "{d:#}");
            assert_eq!(d["assets"].as_array().map(Vec::len), Some(4));
            check_files_match_assets(&cli, &d);
        }
    }
}

#[test]
fn a_lease_of_zero_is_refused() {
    let cli = Cli::new();
    let out = cli
        .cmd()
        .env("EASEL_LEASE_MS", "0")
        .args(["list"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lease_ms"));
}

#[test]
fn a_job_canceled_while_saving_leaves_no_file() {
    let cli = Cli::new();
    let id = cli.generate(&[
        "--prompt",
        "tall cliffs",
        "--size",
        "1024x1024",
        "--count",
        "8",
        "--seed",
        "3",
    ]);
    let mut worker = cli
        .cmd()
        .env("EASEL_OFFLINE_LATENCY_MS", "0")
        .args(["work"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("work");
    let started = Instant::now();
    while cli.library_files().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no file appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cli.ok(&["cancel", &id]);
    // The runner notices at its next heartbeat and removes what it wrote.
    let started = Instant::now();
    while !(cli.library_files().is_empty() && thumbnails(&cli).is_empty()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "files left: {:?} {:?}",
            cli.library_files(),
            thumbnails(&cli)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(&mut worker);
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "canceled");
    assert_eq!(d["assets"].as_array().map(Vec::len), Some(0));
    assert!(cli.library_files().is_empty() && thumbnails(&cli).is_empty());
}

fn stop(child: &mut Child) {
    signal(child, "INT");
    let _ = child.wait();
}

fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

const BUDGET: &str = "monthly_budget_micros = 100000\n[offline]\nprice_per_image_micros = 60000\n";

#[test]
fn concurrent_creates_never_commit_more_than_the_budget() {
    let cli = Cli::new();
    write_config(&cli, BUDGET);
    let children: Vec<Child> = (0..8)
        .map(|i| {
            cli.cmd()
                .args([
                    "generate",
                    "--prompt",
                    &format!("budget {i}"),
                    "--size",
                    "64x64",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut ok = 0;
    for mut c in children {
        if c.wait().expect("wait").success() {
            ok += 1;
        }
    }
    let jobs = cli.json(&["list", "--json"]);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs:#}");
    assert_eq!(ok, 1);
}

#[test]
fn retry_is_checked_against_the_budget() {
    let cli = Cli::new();
    write_config(&cli, BUDGET);
    let a = cli.generate(&["--prompt", "a", "--size", "64x64"]);
    cli.ok(&["cancel", &a]);
    cli.ok(&["generate", "--prompt", "b", "--size", "64x64"]);
    let out = cli.run(&["retry", &a]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("budget"));
    let d = cli.json(&["show", &a, "--json"]);
    assert_eq!(d["job"]["status"], "canceled");
}

#[test]
fn an_existing_request_id_returns_its_job_before_any_other_check() {
    let cli = Cli::new();
    write_config(&cli, BUDGET);
    let args = [
        "generate",
        "--prompt",
        "once",
        "--size",
        "64x64",
        "--request-id",
        "r-1",
    ];
    let first = job_id(&cli.ok(&args));
    // The budget is used up now, and the library is gone: the request's job
    // exists, so re-sending it still returns it.
    std::fs::remove_dir_all(cli.library.path()).expect("unplug");
    let again = job_id(&cli.ok(&args));
    assert_eq!(first, again);
}

#[test]
fn a_request_id_reused_for_another_request_is_a_conflict() {
    let cli = Cli::new();
    let first = cli.generate(&["--prompt", "one", "--size", "64x64", "--request-id", "r-2"]);
    let out = cli.run(&[
        "generate",
        "--prompt",
        "two",
        "--size",
        "64x64",
        "--request-id",
        "r-2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("different request") && stderr.contains(&first),
        "{stderr}"
    );
    let jobs = cli.json(&["list", "--json"]);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1));
}

#[test]
fn concurrent_first_opens_from_several_processes_all_succeed() {
    for round in 0..10 {
        let cli = Cli::new();
        let children: Vec<Child> = (0..3)
            .map(|_| {
                cli.cmd()
                    .args(["list"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn ctrl_c_and_sigterm_are_clean_exits_not_crashes() {
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "x", "--size", "64x64"]);
    for sig in ["INT", "TERM", "INT"] {
        let mut child = work_at(&cli, "processing");
        signal(&child, sig);
        let status = child.wait().expect("wait");
        assert!(status.success(), "{sig}: {status}");
    }
    cli.ok(&["work", "--until-idle"]);
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "completed", "{d:#}");
    assert_eq!(d["job"]["crash_count"], 0);
}

#[test]
fn the_interrupted_list_leaves_out_jobs_another_live_process_runs() {
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "x", "--size", "64x64"]);
    let mut child = work_at(&cli, "processing");
    let open = || {
        let config = easel_engine::Config::new(
            cli.data.path().to_path_buf(),
            Some(cli.library.path().to_path_buf()),
        );
        easel_engine::Engine::open(config).expect("open")
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let report = rt.block_on(open().startup_report()).expect("report");
    assert!(report.interrupted.is_empty(), "{:?}", report.interrupted);
    // Killed: now it was interrupted (once its lease has lapsed).
    child.kill().expect("kill -9");
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(700));
    let report = rt.block_on(open().startup_report()).expect("report");
    assert_eq!(report.interrupted, vec![id]);
}
