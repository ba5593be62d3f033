//! Tauri commands: parse, call the engine, map the error. No business logic.

use easel_engine::{Engine, ErrorPayload, JobDetail, JobSummary, ListQuery, NewJob};
use tauri::State;

type Reply<T> = Result<T, ErrorPayload>;

fn err(e: easel_engine::EngineError) -> ErrorPayload {
    ErrorPayload::from(&e)
}

/// The generate panel sends the engine's `NewJob` as is (its TypeScript
/// type is generated from the Rust one).
#[tauri::command]
pub async fn create_job(engine: State<'_, Engine>, request: NewJob) -> Reply<JobSummary> {
    engine.create_job(request).await.map_err(err)
}

#[tauri::command]
pub async fn list_jobs(
    engine: State<'_, Engine>,
    query: Option<ListQuery>,
) -> Reply<Vec<JobSummary>> {
    engine.list(query.unwrap_or_default()).await.map_err(err)
}

#[tauri::command]
pub async fn get_job(engine: State<'_, Engine>, id: String) -> Reply<JobDetail> {
    engine.detail(&id).await.map_err(err)
}

#[tauri::command]
pub async fn cancel_job(engine: State<'_, Engine>, id: String) -> Reply<JobSummary> {
    engine.cancel(&id).await.map_err(err)
}

#[tauri::command]
pub async fn retry_job(engine: State<'_, Engine>, id: String) -> Reply<JobSummary> {
    engine.retry(&id).await.map_err(err)
}
