//! OpenAI Images as documented (`POST /v1/images/generations`, multipart
//! `POST /v1/images/edits`, `GET /v1/models`): bearer auth, the
//! `{"error":{message,type,param,code}}` error shape, base64 images with
//! `usage` tokens. Synchronous: the images come back in the answer.

// Early answers are axum `Response`s by value, as handlers return them;
// boxing them would only add noise to a test server.
#![allow(clippy::result_large_err)]

use crate::faults::{self, Fault, Script};
use crate::images;
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use futures_util::StreamExt as _;
use image::ImageFormat;
use serde_json::{json, Value};
use std::sync::Arc;

/// What `GET /models` lists: (id, shutdown date).
type Listing = Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

struct App {
    key: String,
    script: Arc<Script>,
    models: Listing,
}

/// A running emulator; stops when dropped.
pub struct Running {
    /// The API root including its version path, as Easel's `base_urls` take it.
    pub base_url: String,
    pub script: Arc<Script>,
    models: Listing,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Announce that `model` shuts down on `date` (`YYYY-MM-DD`) in the
    /// model listing.
    pub fn set_shutdown(&self, model: &str, date: &str) {
        let mut models = faults::lock(&self.models);
        models.retain(|(id, _)| id != model);
        models.push((model.to_string(), Some(date.to_string())));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serve on 127.0.0.1 (`port` 0: any free port), accepting `key` only.
pub async fn start(key: &str, port: u16) -> std::io::Result<Running> {
    let script = Arc::new(Script::default());
    let listed = Arc::new(std::sync::Mutex::new(vec![
        ("gpt-image-2".to_string(), None),
        ("gpt-image-1.5".to_string(), Some("2026-12-01".to_string())),
    ]));
    let app = Arc::new(App {
        key: key.to_string(),
        script: Arc::clone(&script),
        models: Arc::clone(&listed),
    });
    let router = Router::new()
        .route("/v1/images/generations", post(generations))
        .route("/v1/images/edits", post(edits))
        .route("/v1/models", get(models))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Running {
        base_url: format!("http://{addr}/v1"),
        script,
        models: listed,
        task,
    })
}

fn error(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
    (status, Json(body)).into_response()
}

/// Checks the bearer key; records the request either way.
fn authorized(app: &App, headers: &HeaderMap, what: &str) -> Result<(), Response> {
    if faults::bearer_ok(&app.script, &app.key, headers, what) {
        return Ok(());
    }
    Err(error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ))
}

/// What a generation asks for, from JSON or multipart fields.
struct Ask {
    prompt: String,
    n: u32,
    width: u32,
    height: u32,
    format: ImageFormat,
    format_name: &'static str,
    /// `low`, `medium`, `high` or `auto`.
    quality: String,
    references: usize,
    /// `stream: true` with `partial_images` (0–3): answer as events.
    stream: Option<u32>,
}

/// `stream` and `partial_images` as the request gave them.
fn parse_stream(stream: Option<bool>, partials: Option<u64>) -> Result<Option<u32>, Response> {
    let partials = partials.unwrap_or(0);
    if partials > 3 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "partial_images must be between 0 and 3",
            "invalid_request_error",
            Some("partial_images"),
        ));
    }
    Ok(stream.unwrap_or(false).then_some(partials as u32))
}

fn parse_ask(
    prompt: Option<&str>,
    n: Option<u64>,
    size: Option<&str>,
    format: Option<&str>,
    quality: Option<&str>,
    references: usize,
) -> Result<Ask, Response> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m, "invalid_request_error", None);
    let prompt = prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| bad("prompt is required"))?;
    if prompt.chars().count() > 32_000 {
        return Err(bad("prompt is too long"));
    }
    let n = n.unwrap_or(1);
    if !(1..=10).contains(&n) {
        return Err(bad("n must be between 1 and 10"));
    }
    let (width, height) = match size.unwrap_or("auto") {
        "auto" => (1024, 1024),
        s => {
            let (w, h) = s.split_once('x').ok_or_else(|| bad("invalid size"))?;
            let (w, h): (u32, u32) = (
                w.parse().map_err(|_| bad("invalid size"))?,
                h.parse().map_err(|_| bad("invalid size"))?,
            );
            if w % 16 != 0 || h % 16 != 0 || w.max(h) > 3840 || w.min(h) < 16 {
                return Err(bad("size must have sides divisible by 16, at most 3840"));
            }
            (w, h)
        }
    };
    let (format, format_name) = match format.unwrap_or("png") {
        "png" => (ImageFormat::Png, "png"),
        "jpeg" => (ImageFormat::Jpeg, "jpeg"),
        _ => return Err(bad("output_format must be png or jpeg (this emulator)")),
    };
    let quality = quality.unwrap_or("auto");
    if !["low", "medium", "high", "auto"].contains(&quality) {
        return Err(bad("quality must be low, medium, high or auto"));
    }
    Ok(Ask {
        prompt: prompt.to_string(),
        n: n as u32,
        width,
        height,
        format,
        format_name,
        quality: quality.to_string(),
        references,
        stream: None,
    })
}

async fn generations(State(app): State<Arc<App>>, headers: HeaderMap, body: String) -> Response {
    if let Err(r) = authorized(&app, &headers, "POST /v1/images/generations") {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request.",
            "invalid_request_error",
            None,
        );
    };
    let ask = match parse_ask(
        v["prompt"].as_str(),
        v["n"].as_u64(),
        v["size"].as_str(),
        v["output_format"].as_str(),
        v["quality"].as_str(),
        0,
    ) {
        Ok(ask) => ask,
        Err(r) => return r,
    };
    let ask = match parse_stream(v["stream"].as_bool(), v["partial_images"].as_u64()) {
        Ok(stream) => Ask { stream, ..ask },
        Err(r) => return r,
    };
    answer(&app, ask).await
}

async fn edits(State(app): State<Arc<App>>, headers: HeaderMap, mut form: Multipart) -> Response {
    if let Err(r) = authorized(&app, &headers, "POST /v1/images/edits") {
        return r;
    }
    let (mut prompt, mut n, mut size, mut format, mut quality, mut images) =
        (None, None, None, None, None, 0);
    let (mut stream, mut partials) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &e.to_string(),
                    "invalid_request_error",
                    None,
                )
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let Ok(data) = field.bytes().await else {
            return error(
                StatusCode::BAD_REQUEST,
                "unreadable field",
                "invalid_request_error",
                None,
            );
        };
        let text = || String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "image" | "image[]" => {
                if image::guess_format(&data).is_err() {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "image must be a PNG, JPEG or WebP file",
                        "invalid_request_error",
                        None,
                    );
                }
                images += 1;
            }
            "prompt" => prompt = Some(text()),
            "n" => n = text().parse::<u64>().ok(),
            "size" => size = Some(text()),
            "output_format" => format = Some(text()),
            "quality" => quality = Some(text()),
            "stream" => stream = Some(text() == "true"),
            "partial_images" => partials = text().parse::<u64>().ok(),
            _ => {}
        }
    }
    if images == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "image is required",
            "invalid_request_error",
            None,
        );
    }
    let ask = match parse_ask(
        prompt.as_deref(),
        n,
        size.as_deref(),
        format.as_deref(),
        quality.as_deref(),
        images,
    ) {
        Ok(ask) => ask,
        Err(r) => return r,
    };
    let ask = match parse_stream(stream, partials) {
        Ok(stream) => Ask { stream, ..ask },
        Err(r) => return r,
    };
    answer(&app, ask).await
}

/// Apply the next fault, generate (counting it), answer.
async fn answer(app: &App, ask: Ask) -> Response {
    let fault = app.script.next_fault();
    if let Some(early) = faults::before_serving(fault.as_ref()).await {
        return early;
    }
    app.script.count_generation(&ask.prompt);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let data: Vec<Value> = (0..ask.n)
        .map(|i| {
            let bytes = match fault {
                Some(Fault::NotAnImage) => b"this is not an image".to_vec(),
                Some(Fault::Svg) => images::SVG.as_bytes().to_vec(),
                _ => images::picture(&ask.prompt, i, ask.width, ask.height, ask.format),
            };
            json!({"b64_json": b64(&bytes), "revised_prompt": format!("{} (revised)", ask.prompt)})
        })
        .collect();
    // OpenAI's published output tokens for a 1024² image at each quality
    // ("auto" picks medium here).
    let per_image = match ask.quality.as_str() {
        "low" => 272,
        "high" => 4160,
        _ => 1056,
    };
    let output_tokens = per_image * ask.n;
    let image_tokens = 323 * ask.references as u32;
    let text_tokens = ask.prompt.split_whitespace().count() as u32 + 8;
    let body = json!({
        "created": 1_780_000_000,
        "data": data,
        "background": "opaque",
        "output_format": ask.format_name,
        "quality": if ask.quality == "auto" { "medium" } else { ask.quality.as_str() },
        "size": format!("{}x{}", ask.width, ask.height),
        "usage": {
            "input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            "output_tokens": output_tokens,
            "total_tokens": text_tokens + image_tokens + output_tokens,
        }
    });
    if let Some(partials) = ask.stream {
        return streamed(&ask, partials, fault.as_ref(), body);
    }
    match fault {
        Some(Fault::AcceptThenHang) => std::future::pending().await,
        Some(Fault::MalformedJson) => {
            (StatusCode::OK, "{\"created\": 17800, \"data\": [").into_response()
        }
        Some(Fault::AcceptThenReset) => faults::reset_midway(StatusCode::OK, &body.to_string()),
        _ => (
            StatusCode::OK,
            [("x-request-id", "req_emulated")],
            Json(body),
        )
            .into_response(),
    }
}

/// Time between streamed events: long enough for a window to show each
/// preview, short enough for tests.
const EVENT_GAP: std::time::Duration = std::time::Duration::from_millis(150);

/// The answer as OpenAI streams it: `partials` partial images (the picture
/// at a fraction of its size, coarse to fine), then the completed event
/// with the image and usage. Faults break the stream the same ways they
/// break a plain answer.
fn streamed(ask: &Ask, partials: u32, fault: Option<&Fault>, body: Value) -> Response {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let prefix = if ask.references > 0 {
        "image_edit"
    } else {
        "image_generation"
    };
    let mut events: Vec<String> = (0..partials)
        .map(|i| {
            let divisor = 1 << (2 * (partials - i));
            let (w, h) = ((ask.width / divisor).max(8), (ask.height / divisor).max(8));
            let bytes = images::picture(&ask.prompt, 0, w, h, ImageFormat::Png);
            json!({
                "type": format!("{prefix}.partial_image"),
                "b64_json": b64(&bytes),
                "partial_image_index": i,
                "created_at": 1_780_000_000,
            })
            .to_string()
        })
        .collect();
    let mut done = json!({
        "type": format!("{prefix}.completed"),
        "b64_json": body["data"][0]["b64_json"],
        "created_at": body["created"],
        "usage": body["usage"],
    });
    if let Some(revised) = body["data"][0].get("revised_prompt") {
        done["revised_prompt"] = revised.clone();
    }
    events.push(done.to_string());
    let sse = |data: &str| format!("event: x\ndata: {data}\n\n");
    match fault {
        Some(Fault::AcceptThenHang) => {
            let first = events.first().map(|e| sse(e)).unwrap_or_default();
            let parts = futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
                .chain(futures_util::stream::pending());
            event_stream(Body::from_stream(parts))
        }
        Some(Fault::MalformedJson) => {
            event_stream(Body::from(sse("{\"type\": \"image_generation.comp")))
        }
        Some(Fault::AcceptThenReset) => {
            let text: String = events.iter().map(|e| sse(e)).collect();
            faults::reset_midway(StatusCode::OK, &text)
        }
        _ => {
            let parts = futures_util::stream::iter(events).then(move |e| async move {
                tokio::time::sleep(EVENT_GAP).await;
                Ok::<_, std::io::Error>(sse(&e))
            });
            event_stream(Body::from_stream(parts))
        }
    }
}

fn event_stream(body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("x-request-id", "req_emulated")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn models(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app, &headers, "GET /v1/models") {
        return r;
    }
    let data: Vec<Value> = faults::lock(&app.models)
        .iter()
        .map(|(id, shutdown)| {
            let mut m = json!({"id": id, "object": "model", "created": 1_775_000_000, "owned_by": "system"});
            if let Some(date) = shutdown {
                m["shutdown_date"] = json!(date);
            }
            m
        })
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}
