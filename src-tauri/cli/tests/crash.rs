//! Crash tests: kill -9 the CLI worker at each phase of a job, restart it, and
//! check the job finishes exactly once: terminal, no duplicate asset, no
//! partial or temporary file, ledger balanced.

mod common;

use common::{walk, Cli};
use std::time::{Duration, Instant};

/// Start `work` stopped at `point`, wait until it gets there, SIGKILL it.
fn kill_at(cli: &Cli, point: &str) {
    let mut child = common::work_at(cli, point);
    // kill() sends SIGKILL: no destructor, no flush, like a crash.
    child.kill().expect("kill -9");
    let _ = child.wait();
}

fn check_finished_once(cli: &Cli, id: &str, count: usize) {
    let d = cli.json(&["show", id, "--json"]);
    assert_eq!(d["job"]["status"], "completed", "{d:#}");
    let assets = d["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), count);
    let mut indexes: Vec<u64> = assets
        .iter()
        .filter_map(|a| a["output_index"].as_u64())
        .collect();
    indexes.dedup();
    assert_eq!(indexes.len(), count, "duplicate asset rows");
    let ledger = d["ledger"].as_array().expect("ledger");
    let kinds: Vec<&str> = ledger.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["reserve", "charge"],
        "ledger not balanced: {ledger:?}"
    );

    let files = cli.library_files();
    assert_eq!(files.len(), count, "library files: {files:?}");
    for (file, asset) in files.iter().zip(assets) {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(!name.starts_with('.'), "temporary file left: {file:?}");
        let bytes = std::fs::read(file).expect("read");
        image::load_from_memory(&bytes).expect("complete, decodable image");
        assert!(assets
            .iter()
            .any(|a| a["path"] == file.to_string_lossy().as_ref()));
        assert!(std::path::Path::new(asset["thumb_path"].as_str().unwrap_or_default()).exists());
    }
    let thumbs = walk(&cli.data.path().join("cache"));
    assert!(thumbs.iter().all(|p| !p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .starts_with('.')));
}

fn crash_and_recover(point: &str) {
    let cli = Cli::new();
    let id = cli.generate(&[
        "--prompt",
        "storm over the cliffs",
        "--size",
        "192x128",
        "--count",
        "2",
        "--seed",
        "9",
    ]);
    kill_at(&cli, point);
    let started = Instant::now();
    cli.ok(&["work", "--until-idle"]);
    assert!(started.elapsed() < Duration::from_secs(120));
    check_finished_once(&cli, &id, 2);
    let d = cli.json(&["show", &id, "--json"]);
    let timeline = d["timeline"].as_array().expect("timeline");
    if point != "queued" {
        assert!(
            timeline.iter().any(|e| e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("stopped mid-")),
            "recovery not recorded: {timeline:?}"
        );
    }
}

#[test]
fn crash_while_queued() {
    crash_and_recover("queued");
}

#[test]
fn crash_while_submitting() {
    crash_and_recover("submitting");
}

#[test]
fn crash_while_processing() {
    crash_and_recover("processing");
}

/// Killed after the outputs were staged and before that was committed: the
/// restart saves the staged outputs without asking the provider again.
#[test]
fn crash_between_staging_and_its_commit() {
    crash_and_recover("staged");
    let cli_staging_is_empty = |cli: &Cli| walk(&cli.data.path().join("staging")).is_empty();
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "a lighthouse", "--size", "64x64"]);
    kill_at(&cli, "staged");
    assert!(
        !cli_staging_is_empty(&cli),
        "outputs staged before the kill"
    );
    cli.ok(&["work", "--until-idle"]);
    check_finished_once(&cli, &id, 1);
    assert!(cli_staging_is_empty(&cli), "staging emptied once stored");
    let d = cli.json(&["show", &id, "--json"]);
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "not resubmitted: {attempts:?}");
}

#[test]
fn crash_while_saving() {
    crash_and_recover("saving");
}

#[test]
fn crash_just_after_rename() {
    crash_and_recover("after_rename");
}

#[test]
fn a_job_that_keeps_crashing_the_worker_is_held_then_resumed_by_the_user() {
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "x", "--size", "64x64"]);
    // Three crashes in flight (the default crash limit) hold the job.
    kill_at(&cli, "processing");
    kill_at(&cli, "processing");
    kill_at(&cli, "processing");
    cli.ok(&["work", "--until-idle"]);
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["held"], true, "{d:#}");
    assert_eq!(d["job"]["status"], "processing");
    assert!(cli.ok(&["list"]).contains("[held]"));
    cli.ok(&["retry", &id]);
    cli.ok(&["work", "--until-idle"]);
    check_finished_once(&cli, &id, 1);
}

/// A job held after crashing the worker mid-save keeps no file in the
/// library: the killed runs' images and thumbnails (complete, but named by
/// no asset row) go when recovery holds the job. Found by the kill
/// harness (`orphan_files` of held jobs). Its retry then saves again.
#[test]
fn a_job_held_after_crashes_mid_save_leaves_no_files() {
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "a kiln", "--size", "64x64"]);
    let cache = cli.data.path().join("cache");
    for _ in 0..3 {
        kill_at(&cli, "after_rename");
    }
    assert!(!cli.library_files().is_empty(), "the runs wrote files");
    cli.ok(&["work", "--until-idle"]);
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["held"], true, "{d:#}");
    assert_eq!(cli.library_files(), Vec::<std::path::PathBuf>::new());
    assert_eq!(
        common::walk(&cache.join("thumbnails")),
        Vec::<std::path::PathBuf>::new()
    );
    cli.ok(&["retry", &id]);
    cli.ok(&["work", "--until-idle"]);
    check_finished_once(&cli, &id, 1);
}

/// Against Replicate's emulator: killed at each phase, including after
/// Replicate accepted the prediction and before Easel committed its handle,
/// the restarted worker finishes the job with one prediction only (found
/// again by listing, or polled on).
fn crash_against_replicate(point: &str) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let token = "r8_CrashTest00001111";
    let emu = rt
        .block_on(easel_emulator::replicate::start(token, 0))
        .expect("emulator");
    emu.control.set_processing(Duration::from_millis(1_500));
    let mut cli = Cli::new();
    cli.env
        .push(("EASEL_REPLICATE_BASE_URL".into(), emu.base_url.clone()));
    cli.env.push(("REPLICATE_API_TOKEN".into(), token.into()));
    let prompt = format!("a crash at {point}");
    let id = cli.generate(&[
        "--provider",
        "replicate",
        "--model",
        "black-forest-labs/flux-dev",
        "--prompt",
        &prompt,
        "--size",
        "1024x1024",
    ]);
    kill_at(&cli, point);
    cli.ok(&["work", "--until-idle"]);
    check_finished_once(&cli, &id, 1);
    assert_eq!(emu.script.generations(&prompt), 1, "generated once");
    let d = cli.json(&["show", &id, "--json"]);
    assert!(!d.to_string().contains("possible duplicate"), "{d:#}");
    if point == "accepted" {
        let found = d["timeline"].as_array().expect("timeline").iter().any(|e| {
            e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("found at the provider after a restart")
        });
        assert!(found, "{d:#}");
    }
}

#[test]
fn replicate_crash_while_submitting() {
    crash_against_replicate("submitting");
}

#[test]
fn replicate_crash_between_acceptance_and_its_commit() {
    crash_against_replicate("accepted");
}

#[test]
fn replicate_crash_while_processing() {
    crash_against_replicate("processing");
}

#[test]
fn replicate_crash_between_staging_and_its_commit() {
    crash_against_replicate("staged");
}

/// OpenAI cannot say whether a lost submit reached it, but a worker killed
/// before sending anything (the attempt is marked sent only as the request
/// goes out) is resubmitted as a plain submit, not a "possible duplicate";
/// one killed after OpenAI answered keeps its staged images.
#[test]
fn openai_crashes_before_sending_and_after_staging() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = "sk-emu-Crash22223333";
    let emu = rt
        .block_on(easel_emulator::openai::start(key, 0))
        .expect("emulator");
    for point in ["submitting", "staged"] {
        let cli = Cli::for_openai(&emu.base_url, key);
        let prompt = format!("an openai crash at {point}");
        let id = cli.generate_openai(&prompt);
        kill_at(&cli, point);
        cli.ok(&["work", "--until-idle"]);
        check_finished_once(&cli, &id, 1);
        assert_eq!(emu.script.generations(&prompt), 1, "{point}");
        let d = cli.json(&["show", &id, "--json"]);
        assert!(
            !d.to_string().contains("possible duplicate"),
            "{point}: {d:#}"
        );
    }
}

/// A resend OpenAI cannot rule out as a duplicate is marked so even when
/// the worker that resent it is killed after staging the answer: the next
/// worker commits the staged images without asking again, and the mark
/// must not have been lost with the worker that meant to write it.
#[test]
fn openai_possible_duplicate_survives_a_crash_after_staging() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = "sk-emu-Crash44445555";
    let emu = rt
        .block_on(easel_emulator::openai::start(key, 0))
        .expect("emulator");
    let cli = Cli::for_openai(&emu.base_url, key);
    let prompt = "a resend killed after staging";
    let id = cli.generate_openai(prompt);
    // The first submit reaches OpenAI (which generates and bills) and its
    // answer never comes: the worker is killed while waiting for it.
    emu.script
        .push(easel_emulator::faults::Fault::AcceptThenHang);
    let mut first = cli.cmd().arg("work").spawn().expect("worker");
    let waited = Instant::now();
    while emu.script.generations(prompt) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "never submitted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("kill -9");
    let _ = first.wait();
    // The next worker cannot ask OpenAI, resends, stages the answer, dies.
    kill_at(&cli, "staged");
    assert_eq!(emu.script.generations(prompt), 2);
    cli.ok(&["work", "--until-idle"]);
    check_finished_once(&cli, &id, 1);
    assert_eq!(emu.script.generations(prompt), 2, "not sent a third time");
    let d = cli.json(&["show", &id, "--json"]);
    assert!(
        d["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("possible duplicate")),
        "the resend is not marked: {:#}",
        d["timeline"]
    );
}
