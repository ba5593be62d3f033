//! The prompt history on a real database: recent prompts newest first and
//! each once, a search narrows them, starred prompts come first and stay
//! starred, and a deleted job's prompt is not offered.

mod common;

use common::{env, new_job};
use easel_engine::NewJob;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_prompts_are_distinct_newest_first_searchable_and_starrable() {
    let t = env();
    let engine = &t.engine;
    let mut ids = Vec::new();
    for (i, prompt) in [
        "a red fox in snow",
        "a quiet harbor",
        "a red fox in snow",
        "lanterns over water",
        "a forgotten prompt",
    ]
    .iter()
    .enumerate()
    {
        let job = engine
            .create_job(NewJob {
                negative_prompt: (i == 2).then(|| "blur".to_string()),
                ..new_job(&format!("p{i}"), prompt)
            })
            .await
            .expect("create");
        ids.push(job.id);
        // Distinct creation times, so "newest" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    engine.delete(vec![ids[4].clone()]).await.expect("delete");

    let history = engine.prompt_history(None, 50).await.expect("history");
    let recent: Vec<&str> = history.recent.iter().map(|e| e.prompt.as_str()).collect();
    assert_eq!(
        recent,
        ["lanterns over water", "a red fox in snow", "a quiet harbor"],
        "newest first, each once, deleted jobs left out"
    );
    // The latest use of a prompt brings its negative prompt.
    assert_eq!(history.recent[1].negative_prompt.as_deref(), Some("blur"));
    assert!(history.favorites.is_empty());
    assert_eq!(
        engine
            .prompt_history(None, 1)
            .await
            .expect("limit")
            .recent
            .len(),
        1
    );

    let found = engine
        .prompt_history(Some("fox".into()), 50)
        .await
        .expect("search");
    assert_eq!(
        found
            .recent
            .iter()
            .map(|e| e.prompt.as_str())
            .collect::<Vec<_>>(),
        ["a red fox in snow"]
    );

    engine
        .set_prompt_favorite("a quiet harbor".into(), None, true)
        .await
        .expect("star");
    // Starring twice changes nothing.
    engine
        .set_prompt_favorite("a quiet harbor".into(), None, true)
        .await
        .expect("star again");
    let history = engine.prompt_history(None, 50).await.expect("history");
    assert_eq!(
        history
            .favorites
            .iter()
            .map(|e| e.prompt.as_str())
            .collect::<Vec<_>>(),
        ["a quiet harbor"]
    );
    assert!(history
        .recent
        .iter()
        .any(|e| e.prompt == "a quiet harbor" && e.favorite));
    assert!(engine
        .prompt_history(Some("lanterns".into()), 50)
        .await
        .expect("search")
        .favorites
        .is_empty());
    engine
        .set_prompt_favorite("a quiet harbor".into(), None, false)
        .await
        .expect("unstar");
    assert!(engine
        .prompt_history(None, 50)
        .await
        .expect("history")
        .favorites
        .is_empty());
    assert!(engine
        .set_prompt_favorite("  ".into(), None, true)
        .await
        .is_err());
}
