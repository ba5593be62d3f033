//! A real provider from the command line: keys set through stdin, checked,
//! listed and deleted (the real Secret Service, as the test command runs
//! it), and generations on OpenAI and Replicate against the emulator on
//! 127.0.0.1.

mod common;

use common::{walk, Cli};
use easel_emulator::{openai, replicate};
use std::io::Write;
use std::process::{Command, Output, Stdio};

const KEY: &str = "sk-emu-Cli7777wxyz";

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("run easel-cli")
}

fn set_key(cli: &Cli, base_url: &str, key: &str) -> Output {
    let mut child = cli
        .cmd()
        .env("EASEL_OPENAI_BASE_URL", base_url)
        .args(["key", "set", "openai"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{key}\n").as_bytes())
        .expect("write key");
    child.wait_with_output().expect("wait")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_command_line_and_an_openai_generation_end_to_end() {
    let emu = openai::start(KEY, 0).await.expect("emulator");
    let cli = Cli::new();
    let at = |cli: &Cli| {
        let mut c = cli.cmd();
        c.env("EASEL_OPENAI_BASE_URL", &emu.base_url);
        c
    };
    let mut seen = String::new();

    let list = run(at(&cli), &["key", "list"]);
    assert!(
        text(&list).0.contains("openai\tno key"),
        "{:?}",
        text(&list)
    );

    let set = set_key(&cli, &emu.base_url, KEY);
    assert!(set.status.success(), "{:?}", text(&set));
    assert_eq!(text(&set).0.trim(), "openai: key in the keychain");
    let list = run(at(&cli), &["key", "list"]);
    assert!(
        text(&list).0.contains("openai\tkey in the keychain"),
        "{:?}",
        text(&list)
    );

    let check = run(at(&cli), &["key", "check", "openai"]);
    assert!(check.status.success(), "{:?}", text(&check));
    assert!(text(&check).0.contains("openai accepted the key"));

    let prompt = "a windmill in a storm";
    let generated = run(
        at(&cli),
        &[
            "generate",
            "--provider",
            "openai",
            "--model",
            "gpt-image-2",
            "--prompt",
            prompt,
            "--size",
            "256x256",
            "--count",
            "2",
            "--wait",
        ],
    );
    let (out, err) = text(&generated);
    assert!(generated.status.success(), "{out}\n{err}");
    seen.push_str(&out);
    seen.push_str(&err);
    let id = out.split_whitespace().next().expect("job id").to_string();
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "completed", "{d}");
    assert_eq!(d["assets"].as_array().map(Vec::len), Some(2));
    assert_eq!(emu.script.generations(prompt), 1, "generated once");
    seen.push_str(&d.to_string());

    // A key that stops working is reported, and the output never shows it.
    let wrong = set_key(&cli, &emu.base_url, "sk-emu-Revoked00000");
    assert!(wrong.status.success());
    let check = run(at(&cli), &["key", "check", "openai"]);
    assert_eq!(check.status.code(), Some(1), "{:?}", text(&check));
    let (out, err) = text(&check);
    assert!(out.contains("openai refused the key"), "{out}");
    assert!(!format!("{out}{err}").contains("Revoked00000"));

    // The conventional variable wins while set, and is never stored.
    let from_env = run(
        {
            let mut c = at(&cli);
            c.env("OPENAI_API_KEY", KEY);
            c
        },
        &["key", "list"],
    );
    assert!(
        text(&from_env)
            .0
            .contains("openai\tkey from $OPENAI_API_KEY (not stored)"),
        "{:?}",
        text(&from_env)
    );

    let deleted = run(at(&cli), &["key", "delete", "openai"]);
    assert!(deleted.status.success(), "{:?}", text(&deleted));
    assert_eq!(text(&deleted).0.trim(), "openai: no key");
    let refused = run(
        at(&cli),
        &[
            "generate",
            "--provider",
            "openai",
            "--prompt",
            "nothing",
            "--size",
            "256x256",
        ],
    );
    assert!(!refused.status.success());
    assert!(text(&refused).1.contains("openai"), "{:?}", text(&refused));

    for file in walk(cli.data.path())
        .iter()
        .chain(walk(cli.library.path()).iter())
    {
        let bytes = std::fs::read(file).expect("read");
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "the key is in {}",
            file.display()
        );
    }
    assert!(!seen.contains(KEY), "the key reached the output");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicate_generation_end_to_end_with_the_token_from_the_environment() {
    const TOKEN: &str = "r8_EmuCli5555vwxyz";
    let emu = replicate::start(TOKEN, 0).await.expect("emulator");
    let cli = Cli::new();
    let at = || {
        let mut c = cli.cmd();
        c.env("EASEL_REPLICATE_BASE_URL", &emu.base_url)
            .env("REPLICATE_API_TOKEN", TOKEN);
        c
    };
    let list = run(at(), &["key", "list"]);
    assert!(
        text(&list)
            .0
            .contains("replicate\tkey from $REPLICATE_API_TOKEN (not stored)"),
        "{:?}",
        text(&list)
    );
    let check = run(at(), &["key", "check", "replicate"]);
    assert!(check.status.success(), "{:?}", text(&check));

    let prompt = "a fox in tall grass";
    let generated = run(
        at(),
        &[
            "generate",
            "--provider",
            "replicate",
            "--model",
            "black-forest-labs/flux-schnell",
            "--prompt",
            prompt,
            "--size",
            "1344x768",
            "--wait",
        ],
    );
    let (out, err) = text(&generated);
    assert!(generated.status.success(), "{out}\n{err}");
    let id = out.split_whitespace().next().expect("job id").to_string();
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "completed", "{d}");
    // 1344×768 went as FLUX's 16:9; the image is stored at the size made.
    let asset = &d["assets"][0];
    assert_eq!(
        (asset["width"].as_u64(), asset["height"].as_u64()),
        (Some(1360), Some(768))
    );
    assert_eq!(emu.script.generations(prompt), 1, "generated once");
    let seen = format!("{out}{err}{d}");
    assert!(!seen.contains(TOKEN), "the token reached the output");
    for file in walk(cli.data.path())
        .iter()
        .chain(walk(cli.library.path()).iter())
    {
        let bytes = std::fs::read(file).expect("read");
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_settings_from_the_catalog_on_the_command_line() {
    let emu = openai::start(KEY, 0).await.expect("emulator");
    let cli = Cli::new();
    let at = || {
        let mut c = cli.cmd();
        c.env("EASEL_OPENAI_BASE_URL", &emu.base_url)
            .env("OPENAI_API_KEY", KEY);
        c
    };

    // What each model takes, from the catalog.
    let models = run(at(), &["models", "--provider", "replicate"]);
    let (out, err) = text(&models);
    assert!(models.status.success(), "{out}\n{err}");
    for expected in [
        "replicate  black-forest-labs/flux-schnell  FLUX.1 [schnell]",
        "1344x768 (16:9 1 MP)",
        "512x512 (1:1 0.25 MP)",
        "--param num_inference_steps=1..4  (Steps, default 4)",
        "--param output_format=png|webp|jpg  (Format, default png)",
        "negative prompt: no",
        "replicate  OWNER/NAME",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }

    // Settings the request gets wrong are refused before anything is made.
    for (args, said) in [
        (
            vec!["--param", "quality=ultra"],
            r#"quality "ultra" is not one of auto, low, medium, high"#,
        ),
        (
            vec!["--param", "style=vivid"],
            r#"has no parameter "style""#,
        ),
        (vec!["--negative", "blur"], "takes no negative prompt"),
        (vec!["--size", "4096x256"], "out of range"),
    ] {
        let mut all = vec!["generate", "--provider", "openai", "--prompt", "refused"];
        if !args.contains(&"--size") {
            all.extend(["--size", "512x512"]);
        }
        all.extend(args);
        let refused = run(at(), &all);
        let (out, err) = text(&refused);
        assert_eq!(refused.status.code(), Some(2), "{all:?}: {out}\n{err}");
        assert!(err.contains(said), "{all:?}: {err}");
    }
    assert_eq!(emu.script.generations("refused"), 0);

    // High quality as JPEG: sent as asked, stored as a JPEG, and charged
    // what the answer's usage costs at high quality.
    let prompt = "a kite at noon";
    let generated = run(
        at(),
        &[
            "generate",
            "--provider",
            "openai",
            "--prompt",
            prompt,
            "--size",
            "512x512",
            "--param",
            "quality=high",
            "--param",
            "output_format=jpeg",
            "--wait",
        ],
    );
    let (out, err) = text(&generated);
    assert!(generated.status.success(), "{out}\n{err}");
    let id = out.split_whitespace().next().expect("job id").to_string();
    let d = cli.json(&["show", &id, "--json"]);
    assert_eq!(d["job"]["status"], "completed", "{d}");
    assert_eq!(d["job"]["params"]["quality"], "high", "{d}");
    assert_eq!(
        d["job"]["params"]["background"], "auto",
        "defaults filled in: {d}"
    );
    let path = d["assets"][0]["path"].as_str().expect("path");
    assert!(path.ends_with(".jpg"), "{path}");
    let charges: Vec<i64> = d["ledger"]
        .as_array()
        .expect("ledger")
        .iter()
        .filter(|e| e["kind"] == "charge")
        .filter_map(|e| e["amount_micros"].as_i64())
        .collect();
    // 4 words + 8 text tokens in at $5/M, 4160 image tokens out at $40/M.
    assert_eq!(charges, [12 * 5 + 4160 * 40], "{d}");
    assert_eq!(d["job"]["estimated_cost_micros"], 167_000, "{d}");
}
