//! Prompt search stays consistent while new jobs are indexed outside the
//! click's transaction (V11): a search finds every job created before it,
//! deleting jobs never indexed leaves the FTS5 index sound, and a rowid
//! SQLite hands out again after a delete is indexed for its new prompt.

mod common;

use common::{env, new_job};
use easel_engine::store::{deletions, search_index, Store};
use easel_engine::{Engine, ListQuery};
use std::time::Duration;

fn store_of(engine: &Engine) -> Store {
    Store::open(engine.store_path(), Duration::from_secs(5)).expect("store")
}

async fn found(engine: &Engine, text: &str) -> Vec<String> {
    let mut prompts: Vec<String> = engine
        .search(text, 50)
        .await
        .expect("search")
        .into_iter()
        .map(|j| j.prompt)
        .collect();
    prompts.sort();
    prompts
}

/// Create, cancel, delete and purge a job: its row leaves `jobs`.
async fn remove(engine: &Engine, store: &Store, id: &str) {
    engine.cancel(id).await.expect("cancel");
    engine.delete(vec![id.to_string()]).await.expect("delete");
    store
        .write(|tx| deletions::purge(tx, i64::MAX))
        .expect("purge");
}

/// FTS5's own check that the index matches the jobs' prompts.
fn assert_index_sound(store: &Store) {
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO prompts_fts (prompts_fts) VALUES ('integrity-check')",
                [],
            )?;
            Ok(())
        })
        .expect("the search index matches the jobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_right_after_a_click_finds_the_new_job() {
    let t = env();
    let store = store_of(&t.engine);
    let job = t
        .engine
        .create_job(new_job("fresh-1", "a copper kettle on a stove"))
        .await
        .expect("create");
    assert!(
        store.read(search_index::behind).expect("read"),
        "the click's commit did not index the prompt"
    );
    let hits = t.engine.search("kettle", 10).await.expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, job.id);
    let filtered = t
        .engine
        .list(ListQuery {
            search: Some("\"copper kettle\"".into()),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(filtered.len(), 1);
    assert!(!store.read(search_index::behind).expect("read"));

    // The prompt history's search catches up the same way.
    t.engine
        .create_job(new_job("fresh-2", "a brass kettle in the rain"))
        .await
        .expect("create");
    let history = t
        .engine
        .prompt_history(Some("brass".into()), 10)
        .await
        .expect("history");
    assert_eq!(history.recent.len(), 1);
    assert_eq!(history.recent[0].prompt, "a brass kettle in the rain");
    assert_index_sound(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_of_unindexed_jobs_and_reused_rowids_keep_search_right() {
    let t = env();
    let store = store_of(&t.engine);
    let mut ids = Vec::new();
    for (n, prompt) in ["alpha heron", "bravo heron", "charlie heron"]
        .iter()
        .enumerate()
    {
        let job = t
            .engine
            .create_job(new_job(&format!("indexed-{n}"), prompt))
            .await
            .expect("create");
        ids.push(job.id);
    }
    assert_eq!(found(&t.engine, "heron").await.len(), 3);

    // Two jobs never indexed; the newest goes first, then an indexed one,
    // then the other unindexed one, which was the highest rowid left.
    let delta = t
        .engine
        .create_job(new_job("late-1", "delta egret"))
        .await
        .expect("create");
    let echo = t
        .engine
        .create_job(new_job("late-2", "echo egret"))
        .await
        .expect("create");
    remove(&t.engine, &store, &echo.id).await;
    remove(&t.engine, &store, &ids[2]).await;
    remove(&t.engine, &store, &delta.id).await;

    // SQLite hands the freed rowids out again: these jobs must be indexed
    // under their own prompts.
    t.engine
        .create_job(new_job("reused-1", "foxtrot egret"))
        .await
        .expect("create");
    t.engine
        .create_job(new_job("reused-2", "golf egret"))
        .await
        .expect("create");
    assert_eq!(
        found(&t.engine, "heron").await,
        ["alpha heron", "bravo heron"]
    );
    assert_eq!(
        found(&t.engine, "egret").await,
        ["foxtrot egret", "golf egret"]
    );
    for gone in ["delta", "echo", "charlie"] {
        assert!(
            found(&t.engine, gone).await.is_empty(),
            "{gone} was deleted"
        );
    }
    assert_index_sound(&store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smart_board_counts_a_job_created_right_before() {
    let t = env();
    let board = t
        .engine
        .create_board(
            "kettles",
            Some(ListQuery {
                search: Some("kettle".into()),
                ..ListQuery::default()
            }),
        )
        .await
        .expect("board");
    assert_eq!(board.count, 0);
    t.engine
        .create_job(new_job("board-1", "a copper kettle on a stove"))
        .await
        .expect("create");
    let boards = t.engine.boards().await.expect("boards");
    assert_eq!(boards.len(), 1);
    assert_eq!(boards[0].count, 1, "the board counts the new job");
}
