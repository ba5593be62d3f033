//! Boards on a real database: images go on and off a board (one image or
//! a whole job), the gallery filters by board, a smart board keeps a filter
//! and counts what matches, names are unique, and boards survive a reopen.

mod common;

use common::{env, new_job};
use easel_engine::{Engine, ImageRef, ListQuery, NewJob, RunUntil};

/// One image of a job (`Some(i)`) or the whole job (`None`).
fn image(job_id: &str, output_index: Option<u32>) -> ImageRef {
    ImageRef {
        job_id: job_id.to_string(),
        output_index,
    }
}

fn job_ids(jobs: &[easel_engine::JobSummary]) -> Vec<&str> {
    jobs.iter().map(|j| j.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_hold_images_filter_the_gallery_and_smart_boards_keep_a_filter() {
    let t = env();
    let engine = &t.engine;
    let pair = engine
        .create_job(NewJob {
            count: 2,
            ..new_job("pair", "two foxes")
        })
        .await
        .expect("create");
    let single = engine
        .create_job(new_job("single", "one heron"))
        .await
        .expect("create");
    engine.run_worker(RunUntil::Idle).await.expect("run");

    let moods = engine.create_board("Moods", None).await.expect("board");
    assert_eq!((moods.count, moods.filter.is_none()), (0, true));
    let err = engine
        .create_board(" moods ", None)
        .await
        .expect_err("taken");
    assert!(err.to_string().contains("already a board named"), "{err}");
    assert!(engine.create_board("   ", None).await.is_err());

    // One image of the pair, then the whole single job.
    let moods = engine
        .add_to_board(moods.id, vec![image(&pair.id, Some(1))])
        .await
        .expect("add image");
    assert_eq!(moods.count, 1);
    assert_eq!(
        engine
            .images_on_board(moods.id, &pair.id)
            .await
            .expect("on"),
        [1]
    );
    let moods = engine
        .add_to_board(moods.id, vec![image(&single.id, None)])
        .await
        .expect("add job");
    assert_eq!(moods.count, 2);
    // Adding again changes nothing.
    let again = engine
        .add_to_board(moods.id, vec![image(&single.id, None)])
        .await
        .expect("again");
    assert_eq!(again.count, 2);
    let on_board = engine
        .list(ListQuery {
            board: Some(moods.id),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(job_ids(&on_board), [single.id.as_str(), pair.id.as_str()]);

    // Off again: the pair's image, then the board shows only the heron.
    let moods = engine
        .remove_from_board(moods.id, vec![image(&pair.id, None)])
        .await
        .expect("remove");
    assert_eq!(moods.count, 1);

    // A smart board: its filter, not images; counts what matches.
    let foxes = engine
        .create_board(
            "Foxes",
            Some(ListQuery {
                search: Some("fox".into()),
                limit: Some(150),
                ..ListQuery::default()
            }),
        )
        .await
        .expect("smart");
    let filter = foxes.filter.clone().expect("a filter");
    assert_eq!(
        (filter.search.as_deref(), filter.limit),
        (Some("fox"), None)
    );
    assert_eq!(foxes.count, 1);
    assert!(engine
        .add_to_board(foxes.id, vec![image(&single.id, None)],)
        .await
        .is_err());

    // A deleted job leaves the counts.
    engine
        .delete(vec![single.id.clone()])
        .await
        .expect("delete");
    let boards = engine.boards().await.expect("boards");
    assert_eq!(
        boards
            .iter()
            .map(|b| (b.name.as_str(), b.count))
            .collect::<Vec<_>>(),
        [("Foxes", 1), ("Moods", 0)]
    );

    let renamed = engine.rename_board(moods.id, "Calm").await.expect("rename");
    assert_eq!(renamed.name, "Calm");
    assert!(engine.rename_board(moods.id, "foxes").await.is_err());

    // Reopened: the boards are still there.
    engine.stop();
    let config = t.engine.config().clone();
    drop(t.engine);
    let reopened = Engine::open(config).expect("reopen");
    let names: Vec<String> = reopened
        .boards()
        .await
        .expect("boards")
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["Calm", "Foxes"]);
    reopened.delete_board(foxes.id).await.expect("delete board");
    assert_eq!(reopened.boards().await.expect("boards").len(), 1);
    assert!(reopened.delete_board(foxes.id).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smart_board_of_the_last_7_days_stays_the_last_7_days() {
    let t = env();
    let engine = &t.engine;
    let job = engine
        .create_job(new_job("recent", "a swift"))
        .await
        .expect("create");
    let week = engine
        .create_board(
            "This week",
            Some(ListQuery {
                period: Some(easel_engine::Period::Week),
                ..ListQuery::default()
            }),
        )
        .await
        .expect("smart");
    // Kept as a period, not as the date it was saved on.
    let filter = week.filter.clone().expect("a filter");
    assert_eq!(
        (filter.period, filter.created_since),
        (Some(easel_engine::Period::Week), None)
    );
    assert_eq!(week.count, 1);

    // The job ages: counted from now at each query, it leaves the board
    // once it is older than 7 days.
    let age = |days: i64| {
        let db = rusqlite::Connection::open(engine.store_path()).expect("db");
        db.execute(
            "UPDATE jobs SET created_at = created_at - ?1 WHERE id = ?2",
            rusqlite::params![days * 86_400_000, job.id],
        )
        .expect("age");
    };
    age(6);
    let count = |boards: Vec<easel_engine::Board>| boards.iter().map(|b| b.count).sum::<u32>();
    assert_eq!(count(engine.boards().await.expect("boards")), 1);
    age(2);
    assert_eq!(count(engine.boards().await.expect("boards")), 0);
    let listed = engine
        .list(ListQuery {
            period: Some(easel_engine::Period::Week),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert!(listed.is_empty());
}
