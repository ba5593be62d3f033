//! The CLI contract: output, JSON shapes and exit codes.

mod common;

use common::Cli;

#[test]
fn generate_wait_produces_a_png_with_parameters_and_a_completed_job() {
    let cli = Cli::new();
    let out = cli.ok(&[
        "generate",
        "--prompt",
        "a lantern in the snow",
        "--size",
        "256x192",
        "--seed",
        "42",
        "--wait",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "completed", "{out}");
    let path = lines[2];
    let bytes = std::fs::read(path).expect("image file");
    let img = image::load_from_memory(&bytes).expect("valid image");
    assert_eq!((img.width(), img.height()), (256, 192));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("parameters"));
    assert!(text.contains("a lantern in the snow"));
    assert!(text.contains("Seed: 42"));

    let list = cli.json(&["list", "--json"]);
    let jobs = list.as_array().expect("array");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "completed");
    assert_eq!(jobs[0]["id"], lines[0]);

    let detail = cli.json(&["show", lines[0], "--json"]);
    assert_eq!(detail["assets"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail["attempts"][0]["outcome"], "succeeded");
    let text = cli.ok(&["show", lines[0]]);
    assert!(text.contains("completed"));
}

#[test]
fn generate_without_wait_returns_the_queued_job_at_once() {
    let cli = Cli::new();
    let job = cli.json(&[
        "generate",
        "--prompt",
        "x",
        "--size",
        "64x64",
        "--json",
        "--request-id",
        "r1",
    ]);
    assert_eq!(job["status"], "queued");
    // The same request id returns the same job.
    let again = cli.json(&[
        "generate",
        "--prompt",
        "x",
        "--size",
        "64x64",
        "--json",
        "--request-id",
        "r1",
    ]);
    assert_eq!(job["id"], again["id"]);
    let listed = cli.json(&["list", "--status", "queued", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    // A worker finishes it.
    cli.ok(&["work", "--until-idle"]);
    let listed = cli.json(&["list", "--status", "completed", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
}

#[test]
fn cancel_and_retry_from_the_cli() {
    let cli = Cli::new();
    let id = cli.generate(&["--prompt", "x", "--size", "64x64"]);
    assert!(cli.ok(&["cancel", &id]).contains("canceled"));
    let out = cli.run(&["cancel", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancel is not possible"));
    assert!(cli.ok(&["retry", &id]).contains("queued"));
    cli.ok(&["work", "--until-idle"]);
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "completed");
}

#[test]
fn invalid_input_exits_2_with_the_reason() {
    let cli = Cli::new();
    for (args, reason) in [
        (vec!["generate", "--prompt", ""], "prompt is empty"),
        (
            vec!["generate", "--prompt", "x", "--size", "big"],
            "not WIDTHxHEIGHT",
        ),
        (
            vec![
                "generate", "--prompt", "x", "--size", "64x64", "--count", "99",
            ],
            "count 99",
        ),
        (
            vec!["generate", "--prompt", "x", "--provider", "nope"],
            "unknown provider",
        ),
        (vec!["list", "--status", "done"], "unknown job status"),
        (vec!["generate"], "--prompt"),
    ] {
        let out = cli.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{args:?}: {err}");
    }
    let out = cli.run(&["show", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(cli
        .json(&["list", "--json"])
        .as_array()
        .is_some_and(Vec::is_empty));
}

#[test]
fn a_missing_library_folder_exits_2() {
    let cli = Cli::new();
    let missing = cli.library.path().join("gone");
    let out = cli
        .cmd()
        .env("EASEL_LIBRARY_DIR", &missing)
        .args(["generate", "--prompt", "x"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn generate_with_a_reference_image_remixes_it_and_refuses_non_images() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().expect("tmp");
    let reference = dir.path().join("blue.png");
    image::RgbImage::from_pixel(40, 30, image::Rgb([20, 40, 230]))
        .save(&reference)
        .expect("write reference");
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not an image").expect("write notes");

    let reference_arg = reference.to_string_lossy().into_owned();
    let out = cli.ok(&[
        "generate",
        "--prompt",
        "a bay, in blue",
        "--model",
        "easel-remix-1",
        "--size",
        "64x64",
        "--reference",
        &reference_arg,
        "--wait",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "completed", "{out}");
    let detail = cli.json(&["show", lines[0], "--json"]);
    assert_eq!(
        detail["job"]["reference_ids"].as_array().map(Vec::len),
        Some(1)
    );

    let notes_arg = notes.to_string_lossy().into_owned();
    for (model, file, reason) in [
        (
            "easel-remix-1",
            notes_arg.as_str(),
            "not an image Easel can use",
        ),
        (
            "easel-landscape-1",
            reference_arg.as_str(),
            "does not take reference images",
        ),
    ] {
        let out = cli.run(&[
            "generate",
            "--prompt",
            "x",
            "--model",
            model,
            "--size",
            "64x64",
            "--reference",
            file,
        ]);
        assert_eq!(out.status.code(), Some(2), "{model} {file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{err}");
    }
    assert_eq!(
        cli.json(&["list", "--json"]).as_array().map(Vec::len),
        Some(1)
    );
}
