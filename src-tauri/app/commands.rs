//! Tauri commands: parse, call the engine, map the error. No business logic.

use easel_engine::{
    AppSettings, Board, Engine, EngineError, ErrorPayload, ImageRef, JobDetail, JobSummary,
    KeyCheck, ListQuery, NewJob, PromptHistory, ProviderInfo, QueueView, ReferenceImage,
    StartupReport, WebhookStatus,
};
use std::path::PathBuf;
use tauri::{AppHandle, State};
use tauri_plugin_clipboard_manager::ClipboardExt;
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

type Reply<T> = Result<T, ErrorPayload>;

fn err(e: EngineError) -> ErrorPayload {
    ErrorPayload::from(&e)
}

/// The generate panel sends the engine's `NewJob` as is (its TypeScript
/// type is generated from the Rust one).
#[tauri::command]
pub async fn create_job(engine: State<'_, Engine>, request: NewJob) -> Reply<JobSummary> {
    engine.create_job(request).await.map_err(err)
}

/// One prompt to several models: one job each, grouped to compare.
#[tauri::command]
pub async fn create_group(
    engine: State<'_, Engine>,
    group_id: String,
    requests: Vec<NewJob>,
) -> Reply<Vec<JobSummary>> {
    engine.create_group(&group_id, requests).await.map_err(err)
}

/// The jobs of one comparison.
#[tauri::command]
pub async fn group_jobs(engine: State<'_, Engine>, group_id: String) -> Reply<Vec<JobSummary>> {
    engine.group(&group_id).await.map_err(err)
}

/// Import a reference image: the body is the file's raw bytes (no JSON
/// round trip for megabytes).
#[tauri::command]
pub async fn import_reference(
    engine: State<'_, Engine>,
    request: tauri::ipc::Request<'_>,
) -> Reply<ReferenceImage> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(err(EngineError::InvalidInput(
            "send the image file's bytes as the request body".into(),
        )));
    };
    engine.import_reference(bytes.clone()).await.map_err(err)
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

#[tauri::command]
pub async fn get_queue(engine: State<'_, Engine>) -> Reply<QueueView> {
    engine.queue().await.map_err(err)
}

#[tauri::command]
pub async fn move_to_front(engine: State<'_, Engine>, id: String) -> Reply<JobSummary> {
    engine.move_to_front(&id).await.map_err(err)
}

#[tauri::command]
pub async fn set_queue_paused(engine: State<'_, Engine>, paused: bool) -> Reply<()> {
    engine.set_queue_paused(paused).await.map_err(err)
}

#[tauri::command]
pub async fn delete_jobs(engine: State<'_, Engine>, ids: Vec<String>) -> Reply<Vec<String>> {
    engine.delete(ids).await.map_err(err)
}

#[tauri::command]
pub async fn undo_delete(engine: State<'_, Engine>, ids: Vec<String>) -> Reply<Vec<JobSummary>> {
    engine.undo_delete(ids).await.map_err(err)
}

#[tauri::command]
pub async fn delete_image(engine: State<'_, Engine>, id: String, index: u32) -> Reply<JobSummary> {
    engine.delete_image(&id, index).await.map_err(err)
}

#[tauri::command]
pub async fn undo_delete_image(
    engine: State<'_, Engine>,
    id: String,
    index: u32,
) -> Reply<JobSummary> {
    engine.undo_delete_image(&id, index).await.map_err(err)
}

#[tauri::command]
pub async fn set_image_favorite(
    engine: State<'_, Engine>,
    id: String,
    index: u32,
    favorite: bool,
) -> Reply<JobSummary> {
    engine
        .set_image_favorite(&id, index, favorite)
        .await
        .map_err(err)
}

#[tauri::command]
pub async fn reference_from_image(
    engine: State<'_, Engine>,
    id: String,
    index: u32,
) -> Reply<ReferenceImage> {
    engine.reference_from_image(&id, index).await.map_err(err)
}

/// Put one of a job's images on the clipboard as an image (other apps
/// paste it as PNG).
#[tauri::command]
pub async fn copy_image(
    app: AppHandle,
    engine: State<'_, Engine>,
    id: String,
    index: u32,
) -> Reply<()> {
    let path = engine.image_path(&id, index).await.map_err(err)?;
    let pixels = tokio::task::spawn_blocking(move || easel_engine::library::read_rgba(&path))
        .await
        .map_err(|_| err(EngineError::Shutdown))?
        .map_err(|e| err(e.into()))?;
    let image = tauri::image::Image::new_owned(pixels.rgba, pixels.width, pixels.height);
    app.clipboard().write_image(&image).map_err(|e| {
        err(EngineError::InvalidInput(format!(
            "cannot copy the image: {e}"
        )))
    })
}

#[tauri::command]
pub async fn list_boards(engine: State<'_, Engine>) -> Reply<Vec<Board>> {
    engine.boards().await.map_err(err)
}

#[tauri::command]
pub async fn create_board(
    engine: State<'_, Engine>,
    name: String,
    filter: Option<ListQuery>,
) -> Reply<Board> {
    engine.create_board(&name, filter).await.map_err(err)
}

#[tauri::command]
pub async fn rename_board(engine: State<'_, Engine>, id: i64, name: String) -> Reply<Board> {
    engine.rename_board(id, &name).await.map_err(err)
}

#[tauri::command]
pub async fn delete_board(engine: State<'_, Engine>, id: i64) -> Reply<()> {
    engine.delete_board(id).await.map_err(err)
}

#[tauri::command]
pub async fn add_to_board(
    engine: State<'_, Engine>,
    id: i64,
    images: Vec<ImageRef>,
) -> Reply<Board> {
    engine.add_to_board(id, images).await.map_err(err)
}

#[tauri::command]
pub async fn remove_from_board(
    engine: State<'_, Engine>,
    id: i64,
    images: Vec<ImageRef>,
) -> Reply<Board> {
    engine.remove_from_board(id, images).await.map_err(err)
}

#[tauri::command]
pub async fn images_on_board(
    engine: State<'_, Engine>,
    id: i64,
    job_id: String,
) -> Reply<Vec<u32>> {
    engine.images_on_board(id, &job_id).await.map_err(err)
}

#[tauri::command]
pub async fn prompt_history(
    engine: State<'_, Engine>,
    search: Option<String>,
    limit: Option<u32>,
) -> Reply<PromptHistory> {
    engine
        .prompt_history(search, limit.unwrap_or(50))
        .await
        .map_err(err)
}

#[tauri::command]
pub async fn set_prompt_favorite(
    engine: State<'_, Engine>,
    prompt: String,
    negative_prompt: Option<String>,
    favorite: bool,
) -> Reply<()> {
    engine
        .set_prompt_favorite(prompt, negative_prompt, favorite)
        .await
        .map_err(err)
}

#[tauri::command]
pub async fn set_favorite(
    engine: State<'_, Engine>,
    ids: Vec<String>,
    favorite: bool,
) -> Reply<Vec<JobSummary>> {
    engine.set_favorite(ids, favorite).await.map_err(err)
}

#[tauri::command]
pub async fn list_providers(engine: State<'_, Engine>) -> Reply<Vec<ProviderInfo>> {
    Ok(engine.provider_infos().await)
}

/// The key goes from the settings field straight to the keychain; the reply
/// says only whether one is stored.
#[tauri::command]
pub async fn set_api_key(
    engine: State<'_, Engine>,
    provider: String,
    key: String,
) -> Reply<ProviderInfo> {
    engine.set_api_key(&provider, &key).await.map_err(err)
}

#[tauri::command]
pub async fn delete_api_key(engine: State<'_, Engine>, provider: String) -> Reply<ProviderInfo> {
    engine.delete_api_key(&provider).await.map_err(err)
}

#[tauri::command]
pub async fn test_api_key(
    engine: State<'_, Engine>,
    provider: String,
    key: Option<String>,
) -> Reply<KeyCheck> {
    engine
        .test_api_key(&provider, key.as_deref())
        .await
        .map_err(err)
}

/// Why the engine could not start (a bad `config.toml`, a database from a
/// newer Easel), for the window to show instead of the gallery.
pub struct StartupFailure(pub ErrorPayload);

#[tauri::command]
pub fn startup_failure(app: AppHandle) -> Option<ErrorPayload> {
    use tauri::Manager;
    app.try_state::<StartupFailure>().map(|f| f.0.clone())
}

/// The webhook receiver's state and last delivery, for Settings.
#[tauri::command]
pub fn webhook_status(engine: State<'_, Engine>) -> WebhookStatus {
    engine.webhook_status()
}

#[tauri::command]
pub async fn startup_report(engine: State<'_, Engine>) -> Reply<StartupReport> {
    engine.startup_report().await.map_err(err)
}

#[tauri::command]
pub async fn get_settings(engine: State<'_, Engine>) -> Reply<AppSettings> {
    engine.settings().await.map_err(err)
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    engine: State<'_, Engine>,
    settings: AppSettings,
) -> Reply<AppSettings> {
    let saved = engine.save_settings(settings).await.map_err(err)?;
    // The window may show images from the new library folder too.
    crate::image_scope::of(&app).allow_library(&PathBuf::from(&saved.library_dir));
    Ok(saved)
}

/// Only files the engine stored may be revealed or opened.
async fn known_file(engine: &Engine, path: &str) -> Reply<PathBuf> {
    if engine.is_asset_path(path).await.map_err(err)? {
        Ok(PathBuf::from(path))
    } else {
        Err(err(EngineError::InvalidInput(format!(
            "{path} is not an image in the library"
        ))))
    }
}

#[tauri::command]
pub async fn reveal_path(app: AppHandle, engine: State<'_, Engine>, path: String) -> Reply<()> {
    let path = known_file(&engine, &path).await?;
    app.opener().reveal_item_in_dir(&path).map_err(|e| {
        err(EngineError::InvalidInput(format!(
            "cannot show {}: {e}",
            path.display()
        )))
    })
}

#[tauri::command]
pub async fn open_path(app: AppHandle, engine: State<'_, Engine>, path: String) -> Reply<()> {
    let path = known_file(&engine, &path).await?;
    app.opener()
        .open_path(path.to_string_lossy(), None::<&str>)
        .map_err(|e| {
            err(EngineError::InvalidInput(format!(
                "cannot open {}: {e}",
                path.display()
            )))
        })
}

/// The system folder picker (for the library folder); `None` if dismissed.
#[tauri::command]
pub async fn pick_folder(app: AppHandle, start: Option<String>) -> Reply<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title("Choose the library folder");
    if let Some(dir) = start.filter(|d| std::path::Path::new(d).is_dir()) {
        dialog = dialog.set_directory(dir);
    }
    dialog.pick_folder(move |picked| {
        // The receiver only goes away if the window did.
        let _ = tx.send(picked);
    });
    let picked = rx.await.ok().flatten();
    match picked.map(|p| p.into_path()) {
        Some(Ok(path)) => Ok(Some(path.to_string_lossy().into_owned())),
        Some(Err(e)) => Err(err(EngineError::InvalidInput(format!(
            "the picked folder is not a local path: {e}"
        )))),
        None => Ok(None),
    }
}
