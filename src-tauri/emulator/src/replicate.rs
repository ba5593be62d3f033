//! Replicate as documented: predictions created by `owner/model` (or by
//! `version`), `Prefer: wait`, status `starting → processing → succeeded`
//! over a set processing time, `GET /predictions` newest first with a
//! `next` cursor, cancel, output files whose URLs can expire, signed
//! webhooks (Standard Webhooks), RFC 7807 errors.

// Early answers are axum `Response`s by value, as handlers return them.
#![allow(clippy::result_large_err)]

use crate::faults::{self, lock, Fault, Script};
use crate::images;
use crate::signing;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use image::ImageFormat;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The webhook signing secret the emulator serves and signs with.
pub const WEBHOOK_SECRET: &str = "whsec_ZW11bGF0b3Itd2ViaG9vay1zZWNyZXQtMzItYnl0ZXM=";

/// Knobs a test may turn while the emulator runs.
#[derive(Debug)]
pub struct Control {
    /// From creation to `succeeded`.
    pub processing: Mutex<Duration>,
    /// Predictions per page of `GET /predictions`.
    pub page_size: Mutex<usize>,
    /// Cancel requests still to answer with a 503 (counted all the same).
    pub failing_cancels: Mutex<u32>,
    /// `GET /predictions` requests still to answer with a 503.
    pub failing_lists: Mutex<u32>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            processing: Mutex::new(Duration::from_millis(300)),
            page_size: Mutex::new(100),
            failing_cancels: Mutex::new(0),
            failing_lists: Mutex::new(0),
        }
    }
}

impl Control {
    pub fn set_processing(&self, d: Duration) {
        *lock(&self.processing) = d;
    }

    pub fn set_page_size(&self, n: usize) {
        *lock(&self.page_size) = n.max(1);
    }

    pub fn fail_cancels(&self, n: u32) {
        *lock(&self.failing_cancels) = n;
    }

    pub fn fail_lists(&self, n: u32) {
        *lock(&self.failing_lists) = n;
    }
}

struct Prediction {
    id: String,
    model: String,
    input: Value,
    created: chrono::DateTime<chrono::Utc>,
    started: Instant,
    processing: Duration,
    /// Set by cancel or a scripted model failure.
    ended: Option<(&'static str, Option<String>)>,
    webhook: Option<String>,
    fault: Option<Fault>,
    /// Output URLs carry this (each read hands out new ones); a file asked
    /// for with an older one is expired.
    url_generation: u32,
    /// `ExpiredUrl`: the generation the first download used, refused as
    /// expired; only URLs from a later read work.
    expired_at: Option<u32>,
}

impl Prediction {
    fn status(&self) -> &'static str {
        if let Some((status, _)) = &self.ended {
            return status;
        }
        let elapsed = self.started.elapsed();
        if elapsed >= self.processing {
            "succeeded"
        } else if elapsed >= self.processing / 3 {
            "processing"
        } else {
            "starting"
        }
    }

    fn count(&self) -> u32 {
        self.input["num_outputs"].as_u64().unwrap_or(1).clamp(1, 4) as u32
    }
}

struct App {
    key: String,
    base: String,
    script: Arc<Script>,
    control: Arc<Control>,
    predictions: Mutex<Vec<Prediction>>,
    cancels: Mutex<HashMap<String, u32>>,
    next_id: Mutex<u64>,
}

/// A running emulator; stops when dropped.
pub struct Running {
    /// The API root including its version path, as Easel's `base_urls` take it.
    pub base_url: String,
    pub script: Arc<Script>,
    pub control: Arc<Control>,
    app: Arc<App>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// How many cancel requests reached prediction `id`.
    pub fn cancels(&self, id: &str) -> u32 {
        lock(&self.app.cancels).get(id).copied().unwrap_or(0)
    }

    /// The ids of predictions created for `prompt`, oldest first.
    pub fn predictions_for(&self, prompt: &str) -> Vec<String> {
        lock(&self.app.predictions)
            .iter()
            .filter(|p| p.input["prompt"] == prompt)
            .map(|p| p.id.clone())
            .collect()
    }

    /// The input prediction `id` was created with.
    pub fn input_of(&self, id: &str) -> Option<Value> {
        lock(&self.app.predictions)
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.input.clone())
    }

    /// The status prediction `id` has now.
    pub fn status(&self, id: &str) -> Option<String> {
        lock(&self.app.predictions)
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.status().to_string())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve on 127.0.0.1 (`port` 0: any free port), accepting `key` only.
pub async fn start(key: &str, port: u16) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let script = Arc::new(Script::default());
    let control = Arc::new(Control::default());
    let app = Arc::new(App {
        key: key.to_string(),
        base: format!("http://{addr}/v1"),
        script: Arc::clone(&script),
        control: Arc::clone(&control),
        predictions: Mutex::new(Vec::new()),
        cancels: Mutex::new(HashMap::new()),
        next_id: Mutex::new(0),
    });
    let router = Router::new()
        .route(
            "/v1/models/{owner}/{name}/predictions",
            post(create_for_model),
        )
        .route("/v1/predictions", post(create_for_version).get(list))
        .route("/v1/predictions/{id}", get(read))
        .route("/v1/predictions/{id}/cancel", post(cancel))
        .route("/v1/files/{id}/{file}", get(file))
        .route("/v1/account", get(account))
        .route("/v1/webhooks/default/secret", get(secret))
        .with_state(Arc::clone(&app));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Running {
        base_url: app.base.clone(),
        script,
        control,
        app,
        task,
    })
}

/// RFC 7807, as Replicate answers errors.
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({"type": null, "title": title, "detail": detail, "status": status.as_u16()});
    (
        status,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn authorized(app: &App, headers: &HeaderMap, what: &str) -> Result<(), Response> {
    if faults::bearer_ok(&app.script, &app.key, headers, what) {
        return Ok(());
    }
    Err(problem(
        StatusCode::UNAUTHORIZED,
        "Unauthenticated",
        "You did not pass a valid authentication token",
    ))
}

fn prediction_json(app: &App, p: &Prediction) -> Value {
    let status = p.status();
    let urls = |i: u32| format!("{}/files/{}/{i}.png?v={}", app.base, p.id, p.url_generation);
    let removed = matches!(p.fault, Some(Fault::DataRemoved)) && status == "succeeded";
    let output = match status {
        "succeeded" if removed => Value::Null,
        "succeeded" => Value::Array((0..p.count()).map(|i| json!(urls(i))).collect()),
        _ => Value::Null,
    };
    let logs = match status {
        "starting" => "",
        "processing" => "Using seed: 1\n 50%|█████     | 2/4",
        _ => "Using seed: 1\n100%|██████████| 4/4",
    };
    let error = p.ended.as_ref().and_then(|(_, e)| e.clone());
    json!({
        "id": p.id,
        "model": p.model,
        "version": "hidden",
        "input": if removed { Value::Null } else { p.input.clone() },
        "output": output,
        "logs": logs,
        "error": error,
        "status": status,
        "data_removed": removed,
        "created_at": p.created.to_rfc3339(),
        "source": "api",
        "webhook": p.webhook,
        "urls": {
            "get": format!("{}/predictions/{}", app.base, p.id),
            "cancel": format!("{}/predictions/{}/cancel", app.base, p.id),
            "web": format!("https://replicate.com/p/{}", p.id),
        },
        "metrics": {"predict_time": p.processing.as_secs_f64()},
    })
}

async fn create_for_model(
    State(app): State<Arc<App>>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let what = format!("POST /v1/models/{owner}/{name}/predictions");
    if let Err(r) = authorized(&app, &headers, &what) {
        return r;
    }
    create(app, format!("{owner}/{name}"), headers, body).await
}

async fn create_for_version(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Err(r) = authorized(&app, &headers, "POST /v1/predictions") {
        return r;
    }
    let version = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_string));
    let Some(version) = version else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid version",
            "version is required",
        );
    };
    let model = version.split(':').next().unwrap_or_default().to_string();
    create(app, model, headers, body).await
}

async fn create(app: Arc<App>, model: String, headers: HeaderMap, body: String) -> Response {
    if model.starts_with("missing/") {
        return problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested resource could not be found.",
        );
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "The request body is not valid JSON.",
        );
    };
    let input = request["input"].clone();
    let prompt = input["prompt"].as_str().unwrap_or_default().to_string();
    if prompt.trim().is_empty() {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Input validation failed",
            "input.prompt: Field required",
        );
    }
    let fault = app.script.next_fault();
    if let Some(early) = faults::before_serving(fault.as_ref()).await {
        return early;
    }
    app.script.count_generation(&prompt);
    let processing = *lock(&app.control.processing);
    let id = {
        let mut next = lock(&app.next_id);
        *next += 1;
        format!("emu{:06}", *next)
    };
    let webhook = request["webhook"].as_str().map(str::to_string);
    let ended = match &fault {
        Some(Fault::ModelFails(message)) => Some(("failed", Some(message.clone()))),
        _ => None,
    };
    lock(&app.predictions).push(Prediction {
        id: id.clone(),
        model: model.clone(),
        input,
        created: chrono::Utc::now(),
        started: Instant::now(),
        processing,
        ended,
        webhook: webhook.clone(),
        fault: fault.clone(),
        url_generation: 0,
        expired_at: None,
    });
    if let Some(url) = webhook {
        tokio::spawn(deliver_webhooks(Arc::clone(&app), id.clone(), url));
    }
    // `Prefer: wait=N`: hold the answer until done or N seconds.
    let wait = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("wait"))
        .map(|rest| {
            rest.trim_start_matches('=')
                .parse::<u64>()
                .unwrap_or(60)
                .min(60)
        });
    if let Some(seconds) = wait {
        let hold = processing.min(Duration::from_secs(seconds));
        tokio::time::sleep(hold).await;
    }
    let body = {
        let mut predictions = lock(&app.predictions);
        let Some(p) = predictions.iter_mut().find(|p| p.id == id) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        prediction_json(&app, p)
    };
    match fault {
        Some(Fault::AcceptThenHang) => std::future::pending().await,
        Some(Fault::MalformedJson) => (StatusCode::CREATED, "{\"id\": \"emu").into_response(),
        Some(Fault::AcceptThenReset) => {
            faults::reset_midway(StatusCode::CREATED, &body.to_string())
        }
        _ => (StatusCode::CREATED, Json(body)).into_response(),
    }
}

async fn read(State(app): State<Arc<App>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers, &format!("GET /v1/predictions/{id}")) {
        return r;
    }
    let mut predictions = lock(&app.predictions);
    let Some(p) = predictions.iter_mut().find(|p| p.id == id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested resource could not be found.",
        );
    };
    // Each read hands out fresh file URLs; older ones expire.
    p.url_generation += 1;
    Json(prediction_json(&app, p)).into_response()
}

#[derive(serde::Deserialize)]
struct ListQuery {
    cursor: Option<usize>,
    created_after: Option<String>,
}

async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&app, &headers, "GET /v1/predictions") {
        return r;
    }
    if let Some(failure) = faults::failing(&app.control.failing_lists) {
        return failure;
    }
    let after = match q
        .created_after
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
    {
        Some(Ok(t)) => Some(t.with_timezone(&chrono::Utc)),
        Some(Err(_)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "created_after must be an ISO 8601 date-time",
            )
        }
        None => None,
    };
    let page_size = *lock(&app.control.page_size);
    let start = q.cursor.unwrap_or(0);
    let predictions = lock(&app.predictions);
    let newest_first: Vec<&Prediction> = predictions
        .iter()
        .rev()
        .filter(|p| after.is_none_or(|t| p.created >= t))
        .collect();
    let results: Vec<Value> = newest_first
        .iter()
        .skip(start)
        .take(page_size)
        .map(|p| prediction_json(&app, p))
        .collect();
    let next = (start + page_size < newest_first.len()).then(|| {
        let mut url = format!("{}/predictions?cursor={}", app.base, start + page_size);
        if let Some(t) = &q.created_after {
            url.push_str("&created_after=");
            url.push_str(&t.replace('+', "%2B").replace(':', "%3A"));
        }
        url
    });
    Json(json!({"previous": null, "next": next, "results": results})).into_response()
}

async fn cancel(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&app, &headers, &format!("POST /v1/predictions/{id}/cancel")) {
        return r;
    }
    *lock(&app.cancels).entry(id.clone()).or_insert(0) += 1;
    if let Some(failure) = faults::failing(&app.control.failing_cancels) {
        return failure;
    }
    let mut predictions = lock(&app.predictions);
    let Some(p) = predictions.iter_mut().find(|p| p.id == id) else {
        return problem(
            StatusCode::NOT_FOUND,
            "Not found",
            "The requested resource could not be found.",
        );
    };
    if matches!(p.status(), "starting" | "processing") {
        p.ended = Some(("canceled", None));
    }
    Json(prediction_json(&app, p)).into_response()
}

#[derive(serde::Deserialize)]
struct FileQuery {
    v: Option<u32>,
}

async fn file(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> Response {
    app.script
        .record_request(format!("GET /v1/files/{id}/{file}"));
    let gone = || problem(StatusCode::NOT_FOUND, "Not found", "no such file");
    let mut predictions = lock(&app.predictions);
    let Some(p) = predictions.iter_mut().find(|p| p.id == id) else {
        return gone();
    };
    let index: u32 = match file.strip_suffix(".png").and_then(|i| i.parse().ok()) {
        Some(i) if i < p.count() && p.status() == "succeeded" => i,
        _ => return gone(),
    };
    // Real file URLs outlive a few reads; these stay live for the latest
    // two. `ExpiredUrl`: the first download finds its URL expired.
    let v = q.v.unwrap_or(u32::MAX);
    let mut live = v <= p.url_generation && p.url_generation - v <= 1;
    if matches!(p.fault, Some(Fault::ExpiredUrl)) {
        match p.expired_at {
            None => {
                p.expired_at = Some(v);
                live = false;
            }
            Some(at) => live &= v > at,
        }
    }
    if !live {
        return problem(StatusCode::GONE, "Gone", "this file URL has expired");
    }
    let prompt = p.input["prompt"].as_str().unwrap_or_default();
    let (w, h) = dimensions(&p.input);
    let bytes = match p.fault {
        Some(Fault::NotAnImage) => b"<html>not an image</html>".to_vec(),
        Some(Fault::Svg) => images::SVG.as_bytes().to_vec(),
        _ => images::picture(prompt, index, w, h, ImageFormat::Png),
    };
    ([("content-type", "image/png")], bytes).into_response()
}

/// The size a FLUX-style `aspect_ratio` at `megapixels` (default 1, as
/// 2^20 pixels) or explicit `width`/`height` comes out at.
fn dimensions(input: &Value) -> (u32, u32) {
    if let Some((a, b)) = input["aspect_ratio"]
        .as_str()
        .and_then(|r| r.split_once(':'))
        .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)))
    {
        let megapixels = input["megapixels"]
            .as_str()
            .and_then(|m| m.parse::<f64>().ok())
            .unwrap_or(1.0);
        let pixels = 1_048_576.0 * megapixels;
        let w = (pixels * a / b).sqrt();
        let h = pixels / w;
        let round16 = |x: f64| ((x / 16.0).round() * 16.0).max(16.0) as u32;
        return (round16(w), round16(h));
    }
    let side = |k: &str| input[k].as_u64().unwrap_or(1024).clamp(16, 2048) as u32;
    (side("width"), side("height"))
}

async fn account(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers, "GET /v1/account") {
        return r;
    }
    Json(json!({"type": "user", "username": "emulator", "name": "Easel Emulator"})).into_response()
}

async fn secret(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers, "GET /v1/webhooks/default/secret") {
        return r;
    }
    Json(json!({"key": WEBHOOK_SECRET})).into_response()
}

/// Deliver the `completed` webhook when the prediction ends, signed as
/// Standard Webhooks; scripted faults add a forged delivery first or
/// deliver the genuine one twice.
async fn deliver_webhooks(app: Arc<App>, id: String, url: String) {
    loop {
        let state = {
            let predictions = lock(&app.predictions);
            predictions.iter().find(|p| p.id == id).map(|p| {
                (
                    p.status(),
                    p.fault.clone(),
                    prediction_json(&app, p).to_string(),
                )
            })
        };
        let Some((status, fault, body)) = state else {
            return;
        };
        if matches!(status, "starting" | "processing") {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let message_id = format!("msg_{id}");
        let client = reqwest::Client::new();
        let send = |signature: String| {
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let signature = if signature.is_empty() {
                signing::sign(WEBHOOK_SECRET, &message_id, &timestamp, body.as_bytes())
            } else {
                signature
            };
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", &message_id)
                .header("webhook-timestamp", timestamp)
                .header("webhook-signature", signature)
                .body(body.clone())
                .send()
        };
        if matches!(fault, Some(Fault::ForgedWebhook)) {
            let forged = "v1,Zm9yZ2VkLXNpZ25hdHVyZS1ub3QtZnJvbS1yZXBsaWNhdGU=".to_string();
            let verdict = send(forged).await.map(|r| r.status().as_u16());
            app.script
                .record_request(format!("webhook forged -> {verdict:?}"));
        }
        let times = if matches!(fault, Some(Fault::DuplicateWebhook)) {
            2
        } else {
            1
        };
        for _ in 0..times {
            let verdict = send(String::new()).await.map(|r| r.status().as_u16());
            app.script
                .record_request(format!("webhook {message_id} -> {verdict:?}"));
        }
        return;
    }
}
