//! Deleting is undoable: a deleted job or single image leaves the gallery
//! and its files go to the (real, freedesktop) trash; Undo brings the files
//! back to the same paths and the job or image back to the gallery.
//! Favorites are per image. A real database, the real offline provider and
//! a trash folder of the test's own.

mod common;

use common::{env, files, new_job};
use easel_engine::{JobStatus, ListQuery, NewJob, RunUntil};
use std::path::{Path, PathBuf};

fn visible_ids(jobs: &[easel_engine::JobSummary]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

fn in_trash(trash_home: &Path, name: &std::ffi::OsStr) -> bool {
    files(trash_home)
        .iter()
        .any(|p| p.file_name() == Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_undo_for_jobs_and_single_images_and_favorites_per_image() {
    let t = env();
    // The trash of this test, not the user's (the only test in this binary
    // that sets it).
    let trash_home = tempfile::tempdir_in(t.library.path().parent().expect("parent")).expect("tmp");
    std::env::set_var("XDG_DATA_HOME", trash_home.path());
    let engine = &t.engine;

    let pair = engine
        .create_job(NewJob {
            count: 2,
            ..new_job("pair", "two lanterns")
        })
        .await
        .expect("create");
    let other = engine
        .create_job(new_job("other", "a quiet harbor"))
        .await
        .expect("create");
    engine.run_worker(RunUntil::Idle).await.expect("run");
    let detail = engine.detail(&pair.id).await.expect("detail");
    assert_eq!(detail.job.status, JobStatus::Completed);
    assert_eq!(detail.assets.len(), 2);
    let paths: Vec<PathBuf> = detail
        .assets
        .iter()
        .map(|a| PathBuf::from(&a.path))
        .collect();
    assert_eq!(
        detail.job.image_path.as_deref(),
        Some(detail.assets[0].path.as_str())
    );

    // Favorite one image: the job counts as a favorite, the other image not.
    let job = engine
        .set_image_favorite(&pair.id, 1, true)
        .await
        .expect("favorite image");
    assert!(job.favorite);
    let assets = engine.detail(&pair.id).await.expect("detail").assets;
    assert_eq!(
        assets.iter().map(|a| a.favorite).collect::<Vec<_>>(),
        [false, true]
    );
    let favorites = engine
        .list(ListQuery {
            favorite: Some(true),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(visible_ids(&favorites), [pair.id.as_str()]);
    let job = engine
        .set_image_favorite(&pair.id, 1, false)
        .await
        .expect("unfavorite image");
    assert!(!job.favorite, "no favorite image left");
    assert!(engine.set_image_favorite(&pair.id, 7, true).await.is_err());

    // Delete the first image only: the job stays with one image, whose
    // file and thumbnail become its cover; the file is in the trash.
    let job = engine
        .delete_image(&pair.id, 0)
        .await
        .expect("delete image");
    assert_eq!(job.asset_count, 1);
    assert!(!job.deleted);
    assert_eq!(
        job.image_path.as_deref(),
        Some(paths[1].to_str().expect("utf-8"))
    );
    assert!(!paths[0].exists(), "deleted image left in the library");
    assert!(in_trash(
        trash_home.path(),
        paths[0].file_name().expect("name")
    ));
    let left = engine.detail(&pair.id).await.expect("detail").assets;
    assert_eq!(left.iter().map(|a| a.output_index).collect::<Vec<_>>(), [1]);

    // Undo: the file is back at its path and the job has two images again.
    let job = engine
        .undo_delete_image(&pair.id, 0)
        .await
        .expect("undo image");
    assert_eq!(job.asset_count, 2);
    assert!(paths[0].exists(), "file not restored");
    assert_eq!(
        job.image_path.as_deref(),
        Some(paths[0].to_str().expect("utf-8"))
    );
    assert!(!in_trash(
        trash_home.path(),
        paths[0].file_name().expect("name")
    ));

    // Delete the whole job: hidden from the gallery and search, files in
    // the trash, the record kept (marked) for Undo.
    let deleted = engine.delete(vec![pair.id.clone()]).await.expect("delete");
    assert_eq!(deleted, std::slice::from_ref(&pair.id));
    assert!(paths.iter().all(|p| !p.exists()));
    let listed = engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(visible_ids(&listed), [other.id.as_str()]);
    assert!(engine
        .search("lanterns", 10)
        .await
        .expect("search")
        .is_empty());
    assert!(engine.get(&pair.id).await.expect("get").deleted);
    // Deleting again changes nothing.
    assert!(engine
        .delete(vec![pair.id.clone()])
        .await
        .expect("again")
        .is_empty());

    let restored = engine
        .undo_delete(vec![pair.id.clone()])
        .await
        .expect("undo");
    assert_eq!(restored.len(), 1);
    assert!(!restored[0].deleted);
    assert_eq!(restored[0].status, JobStatus::Completed);
    assert!(paths.iter().all(|p| p.exists()), "files not restored");
    let listed = engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        engine.search("lanterns", 10).await.expect("search").len(),
        1
    );
    assert_eq!(
        engine.detail(&pair.id).await.expect("detail").assets.len(),
        2
    );

    // Deleting a job's last image deletes the job.
    let single = engine.detail(&other.id).await.expect("detail");
    let single_path = PathBuf::from(&single.assets[0].path);
    let job = engine
        .delete_image(&other.id, 0)
        .await
        .expect("delete last");
    assert!(job.deleted);
    assert!(!single_path.exists());
    let job = &engine
        .undo_delete(vec![other.id.clone()])
        .await
        .expect("undo")[0];
    assert!(!job.deleted && single_path.exists());

    // A queued job is canceled by the delete (nothing deleted ever runs)
    // and comes back canceled.
    engine.set_queue_paused(true).await.expect("pause");
    let waiting = engine
        .create_job(new_job("waiting", "never started"))
        .await
        .expect("create");
    engine
        .delete(vec![waiting.id.clone()])
        .await
        .expect("delete queued");
    let gone = engine.get(&waiting.id).await.expect("get");
    assert_eq!(gone.status, JobStatus::Canceled);
    assert!(gone.deleted);
    assert!(engine.queue().await.expect("queue").jobs.is_empty());
    let back = &engine
        .undo_delete(vec![waiting.id.clone()])
        .await
        .expect("undo")[0];
    assert_eq!(back.status, JobStatus::Canceled);
    assert!(!back.deleted);

    // Undo after the trash was emptied says so and changes nothing.
    engine.delete(vec![pair.id.clone()]).await.expect("delete");
    std::fs::remove_dir_all(trash_home.path().join("Trash")).expect("empty the trash");
    let err = engine
        .undo_delete(vec![pair.id.clone()])
        .await
        .expect_err("nothing to restore");
    assert!(err.to_string().contains("no longer in the trash"), "{err}");
    assert!(engine.get(&pair.id).await.expect("get").deleted);
}
