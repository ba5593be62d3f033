//! A job's whole life through the public API, on the offline provider.

mod common;

use common::{env, env_with, files, new_job};
use easel_engine::library::metadata::read_png_text;
use easel_engine::{JobStatus, LedgerKind, ListQuery, RunUntil};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_goes_from_queued_to_completed_with_a_valid_png() {
    let t = env();
    let mut events = t.engine.subscribe();
    let mut job = new_job("req-1", "a quiet harbour at sunset");
    job.count = 2;
    job.negative_prompt = Some("blurry".into());
    let created = t.engine.create_job(job).await.expect("create");
    assert_eq!(created.status, JobStatus::Queued);
    assert_eq!(created.provider, "offline");

    let d = common::settle(&t.engine, &created.id).await;
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(d.assets.len(), 2);
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].outcome.as_deref(), Some("succeeded"));
    assert!(d.attempts[0].handle.is_some());
    let statuses: Vec<JobStatus> = d.timeline.iter().map(|e| e.to_status).collect();
    assert_eq!(
        statuses,
        [
            JobStatus::Queued,
            JobStatus::Submitting,
            JobStatus::Processing,
            JobStatus::Saving,
            JobStatus::Completed
        ]
    );
    let kinds: Vec<LedgerKind> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Charge]);

    for asset in &d.assets {
        let bytes = std::fs::read(&asset.path).expect("image file");
        let img = image::load_from_memory(&bytes).expect("decodes");
        assert_eq!((img.width(), img.height()), (128, 96));
        assert!(asset
            .path
            .starts_with(t.library.path().to_str().expect("utf8")));
        let text = read_png_text(&bytes).expect("png text");
        let params = text
            .iter()
            .find(|(k, _)| k == "parameters")
            .map(|(_, v)| v.clone())
            .expect("parameters chunk");
        assert!(params.starts_with("a quiet harbour at sunset\nNegative prompt: blurry\n"));
        assert!(params.contains(&format!("Seed: {}", 7 + asset.output_index)));
        assert!(text
            .iter()
            .any(|(k, v)| k == "easel" && v.contains(&created.id)));
        assert!(std::path::Path::new(&asset.thumb_path).exists());
    }
    // The two outputs are different images.
    assert_ne!(d.assets[0].sha256, d.assets[1].sha256);

    // Events arrived in commit order with increasing seq.
    let mut last = 0;
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        assert!(ev.seq > last, "seq {} after {}", ev.seq, last);
        last = ev.seq;
        seen.push(ev.job.status);
    }
    assert_eq!(seen.first(), Some(&JobStatus::Queued));
    assert_eq!(seen.last(), Some(&JobStatus::Completed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_id_never_creates_a_second_job() {
    let t = env();
    let a = t
        .engine
        .create_job(new_job("same", "first"))
        .await
        .expect("a");
    // The same request again (an IPC retry, a double click) is the same job,
    // whitespace around the prompt notwithstanding.
    let b = t
        .engine
        .create_job(new_job("same", "  first "))
        .await
        .expect("b");
    assert_eq!(a.id, b.id);
    // A different request under the same id is a conflict, not a silent
    // return of the first job; nothing is created.
    let err = t
        .engine
        .create_job(new_job("same", "second"))
        .await
        .expect_err("a different request under a used id");
    assert_eq!(
        err.kind(),
        easel_engine::ErrorKind::RequestConflict,
        "{err}"
    );
    assert!(err.to_string().contains(&a.id), "{err}");
    let all = t.engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].prompt, "first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_request_id_make_one_job() {
    let t = env();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let engine = t.engine.clone();
        handles.push(tokio::spawn(async move {
            engine.create_job(new_job("double-click", "once")).await
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.expect("join").expect("create").id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        t.engine
            .list(ListQuery::default())
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_then_retry_runs_a_new_attempt_on_the_same_job() {
    let t = env();
    let job = t
        .engine
        .create_job(new_job("c1", "a red kite"))
        .await
        .expect("create");
    let canceled = t.engine.cancel(&job.id).await.expect("cancel");
    assert_eq!(canceled.status, JobStatus::Canceled);
    // Canceling again is refused clearly and changes nothing.
    let again = t.engine.cancel(&job.id).await.expect_err("second cancel");
    assert!(again.to_string().contains("canceled"), "{again}");

    let retried = t.engine.retry(&job.id).await.expect("retry");
    assert_eq!(retried.status, JobStatus::Queued);
    assert_eq!(retried.run, 2);
    let d = common::settle(&t.engine, &job.id).await;
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(
        d.attempts.len(),
        1,
        "the canceled run never reached a provider"
    );
    // Completed is final: neither cancel nor retry changes it.
    assert!(t.engine.cancel(&job.id).await.is_err());
    assert!(t.engine.retry(&job.id).await.is_err());
    assert_eq!(
        t.engine.get(&job.id).await.expect("get").status,
        JobStatus::Completed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_prompts_and_keyset_paging_covers_every_job() {
    let t = env();
    for i in 0..25 {
        let prompt = if i % 5 == 0 {
            "lighthouse in fog"
        } else {
            "mountain lake"
        };
        t.engine
            .create_job(new_job(&format!("r{i}"), prompt))
            .await
            .expect("create");
    }
    let hits = t.engine.search("lighth", 100).await.expect("search");
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|j| j.prompt.contains("lighthouse")));
    // Words in quotes are a phrase: in that order, whole words.
    for (id, prompt) in [
        ("p1", "a red fox in snow"),
        ("p2", "a fox, red in snow"),
        ("p3", "a red foxglove"),
    ] {
        t.engine
            .create_job(new_job(id, prompt))
            .await
            .expect("create");
    }
    let phrase = t.engine.search("\"red fox\"", 10).await.expect("phrase");
    assert_eq!(
        phrase.iter().map(|j| j.prompt.as_str()).collect::<Vec<_>>(),
        ["a red fox in snow"]
    );
    let words = t.engine.search("red fox", 10).await.expect("words");
    assert_eq!(words.len(), 3, "every word as a prefix: {words:?}");
    let mixed = t
        .engine
        .search("snow \"fox red\"", 10)
        .await
        .expect("mixed");
    assert_eq!(
        mixed.iter().map(|j| j.prompt.as_str()).collect::<Vec<_>>(),
        ["a fox, red in snow"]
    );
    // FTS syntax in user input is treated as text, not an error.
    assert!(t
        .engine
        .search("\"unbalanced AND (", 10)
        .await
        .expect("safe")
        .is_empty());

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = t
            .engine
            .list(ListQuery {
                before: before.clone(),
                limit: Some(7),
                ..ListQuery::default()
            })
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        before = Some((last.created_at, last.id.clone()));
        seen.extend(page.into_iter().map(|j| j.id));
    }
    assert_eq!(seen.len(), 28);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first (ids are time-ordered)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_model_and_creation_date() {
    let t = env();
    let old = t
        .engine
        .create_job(new_job("m1", "old landscape"))
        .await
        .expect("create");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let cutoff = easel_engine::store::now_ms();
    let remix = t
        .engine
        .create_job(easel_engine::NewJob {
            model: Some(easel_engine::providers::offline::REMIX_MODEL.into()),
            ..new_job("m2", "new remix")
        })
        .await
        .expect("create");
    let ids =
        |jobs: Vec<easel_engine::JobSummary>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let by_model = t
        .engine
        .list(ListQuery {
            model: Some(easel_engine::providers::offline::MODEL.into()),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(by_model), vec![old.id.clone()]);
    let recent = t
        .engine
        .list(ListQuery {
            created_since: Some(cutoff),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(ids(recent), vec![remix.id.clone()]);
    let all = t.engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(ids(all), vec![remix.id, old.id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_budget_refuses_new_jobs_once_reached() {
    let t = env_with(|c| {
        c.offline.price_per_image_micros = 40_000;
        c.monthly_budget_micros = Some(100_000);
    });
    let first = t.engine.create_job(new_job("b1", "one")).await.expect("1");
    t.engine.create_job(new_job("b2", "two")).await.expect("2");
    let err = t
        .engine
        .create_job(new_job("b3", "three"))
        .await
        .expect_err("over budget");
    assert!(err.to_string().contains("budget"), "{err}");
    // Canceling a queued job frees its share of the budget.
    t.engine.cancel(&first.id).await.expect("cancel");
    t.engine
        .create_job(new_job("b3", "three"))
        .await
        .expect("fits again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_until_idle_finishes_every_job_and_leaves_no_temp_files() {
    let t = env();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.engine
                .create_job(new_job(&format!("i{i}"), "rolling hills"))
                .await
                .expect("create")
                .id,
        );
    }
    let waiting = t.engine.active_counts().await.expect("counts");
    assert_eq!((waiting.queued, waiting.running), (5, 0));
    t.engine.run_worker(RunUntil::Idle).await.expect("idle");
    let done = t.engine.active_counts().await.expect("counts");
    assert_eq!((done.queued, done.running), (0, 0));
    for id in &ids {
        assert_eq!(
            t.engine.get(id).await.expect("get").status,
            JobStatus::Completed
        );
    }
    let lib = files(t.library.path());
    assert_eq!(lib.len(), 5);
    assert!(lib
        .iter()
        .all(|p| p.extension().is_some_and(|e| e == "png")));
    assert!(lib.iter().all(|p| !p
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn favorites_filter_and_delete_moves_files_to_the_trash() {
    let t = env();
    // Keep the test's trash out of the user's home.
    let trash_home = tempfile::tempdir_in(t.library.path().parent().expect("parent")).expect("tmp");
    std::env::set_var("XDG_DATA_HOME", trash_home.path());
    let a = t
        .engine
        .create_job(new_job("fa", "alpha"))
        .await
        .expect("a");
    let b = t.engine.create_job(new_job("fb", "beta")).await.expect("b");
    t.engine.run_worker(RunUntil::Idle).await.expect("run");
    let changed = t
        .engine
        .set_favorite(vec![a.id.clone()], true)
        .await
        .expect("fav");
    assert_eq!(changed.len(), 1);
    assert!(changed[0].favorite);
    let favs = t
        .engine
        .list(ListQuery {
            favorite: Some(true),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(
        favs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        [a.id.as_str()]
    );
    let done = t.engine.get(&b.id).await.expect("get");
    assert_eq!(done.asset_count, 1);
    let thumb = done.thumb_path.clone().expect("thumb path");
    assert!(std::path::Path::new(&thumb).exists());

    let path = t.engine.detail(&b.id).await.expect("detail").assets[0]
        .path
        .clone();
    assert!(t.engine.is_asset_path(&path).await.expect("known"));
    let deleted = t.engine.delete(vec![b.id.clone()]).await.expect("delete");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0], b.id);
    assert!(
        !std::path::Path::new(&path).exists(),
        "file left in the library"
    );
    assert!(
        !files(trash_home.path()).is_empty(),
        "file not in the trash"
    );
    // Kept, marked, for Undo (see tests/deleting.rs).
    assert!(t.engine.get(&b.id).await.expect("get").deleted);
    assert!(!t.engine.is_asset_path(&path).await.expect("known"));
    assert_eq!(
        t.engine
            .list(ListQuery::default())
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_saved_and_applied() {
    let t = env();
    let mut s = t.engine.settings().await.expect("settings");
    assert_eq!(s.default_provider, "offline");
    let new_lib = tempfile::tempdir().expect("tmp");
    s.library_dir = new_lib.path().to_string_lossy().into_owned();
    s.monthly_budget_micros = Some(5_000_000);
    s.concurrency.insert("offline".into(), 3);
    let saved = t.engine.save_settings(s.clone()).await.expect("save");
    assert_eq!(saved.monthly_budget_micros, Some(5_000_000));
    let text = std::fs::read_to_string(t.data.path().join("config.toml")).expect("config");
    assert!(text.contains("monthly_budget_micros = 5000000"), "{text}");
    let job = t
        .engine
        .create_job(new_job("s", "after move"))
        .await
        .expect("create");
    t.engine
        .run_worker(RunUntil::Settled(vec![job.id.clone()]))
        .await
        .expect("run");
    assert_eq!(
        files(new_lib.path()).len(),
        1,
        "new images go to the new folder"
    );

    let mut bad = s.clone();
    bad.library_dir = "/no/such/folder".into();
    assert!(t.engine.save_settings(bad).await.is_err());
    let mut bad = s.clone();
    bad.concurrency.insert("offline".into(), 0);
    assert!(t.engine.save_settings(bad).await.is_err());
    let mut bad = s;
    bad.default_provider = "nope".into();
    assert!(t.engine.save_settings(bad).await.is_err());
    // Refused settings changed nothing.
    assert_eq!(
        t.engine.settings().await.expect("s").monthly_budget_micros,
        Some(5_000_000)
    );
    // The next start knows the folder used before, so its images still show.
    let reloaded =
        easel_engine::Config::load(Some(t.data.path().to_path_buf()), None).expect("reload");
    assert_eq!(reloaded.library_dir, new_lib.path());
    assert_eq!(
        reloaded.earlier_library_dirs,
        vec![t.library.path().to_path_buf()]
    );
    // With the folder overridden (a flag or EASEL_LIBRARY_DIR), the chosen
    // one counts as earlier too.
    let other = tempfile::tempdir().expect("tmp");
    let overridden = easel_engine::Config::load(
        Some(t.data.path().to_path_buf()),
        Some(other.path().to_path_buf()),
    )
    .expect("reload");
    assert_eq!(
        overridden.earlier_library_dirs,
        vec![t.library.path().to_path_buf(), new_lib.path().to_path_buf()]
    );
}

/// The bookkeeping of one job is six commits that each change rows (and so
/// each append to the WAL and fsync): create, claim, submit fenced, accepted,
/// provider done (saving), completed. Transactions that find nothing to do
/// (the janitor at start, the scheduler's claim of an empty queue) write no
/// frame and are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_takes_six_writing_commits() {
    let t = env();
    let before = t.engine.commits();
    let created = t
        .engine
        .create_job(new_job("six-1", "a lighthouse at dusk"))
        .await
        .expect("create");
    assert_eq!(t.engine.commits() - before, 1, "the click is one commit");
    t.engine
        .run_worker(RunUntil::Settled(vec![created.id.clone()]))
        .await
        .expect("run");
    let job = t.engine.get(&created.id).await.expect("get");
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(t.engine.commits() - before, 6);
}

/// A budget that is fully used refuses new clicks, not the retry of a click
/// whose job exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_request_gets_its_job_when_the_budget_is_used_up() {
    let t = env_with(|c| {
        c.offline.price_per_image_micros = 50_000;
        c.monthly_budget_micros = Some(100_000);
    });
    let first = t.engine.create_job(new_job("u1", "one")).await.expect("1");
    t.engine.create_job(new_job("u2", "two")).await.expect("2");
    let err = t
        .engine
        .create_job(new_job("u3", "three"))
        .await
        .expect_err("the budget is used up");
    assert!(err.to_string().contains("budget"), "{err}");
    let again = t
        .engine
        .create_job(new_job("u1", "one"))
        .await
        .expect("the retry gets its job");
    assert_eq!(again.id, first.id);
}
