//! Tauri commands: parse, call the engine, map the error. No business logic.

use easel_engine::{Engine, ErrorPayload, JobDetail, JobSummary, ListQuery, NewJob};
use serde::Deserialize;
use tauri::State;

/// What the generate panel sends. Unset fields take the engine's defaults.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct GenerateRequest {
    pub request_id: String,
    pub prompt: String,
    #[serde(default)]
    pub negative_prompt: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default)]
    pub seed: Option<u64>,
}

type Reply<T> = Result<T, ErrorPayload>;

fn err(e: easel_engine::EngineError) -> ErrorPayload {
    ErrorPayload::from(&e)
}

#[tauri::command]
pub async fn create_job(engine: State<'_, Engine>, request: GenerateRequest) -> Reply<JobSummary> {
    engine
        .create_job(NewJob {
            request_id: request.request_id,
            prompt: request.prompt,
            negative_prompt: request.negative_prompt,
            provider: request.provider,
            model: request.model,
            width: request.width.unwrap_or(1024),
            height: request.height.unwrap_or(1024),
            count: request.count.unwrap_or(1),
            seed: request.seed,
        })
        .await
        .map_err(err)
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
