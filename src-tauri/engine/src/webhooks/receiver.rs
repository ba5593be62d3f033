//! The HTTP side of webhooks: `POST /webhooks/{provider}?job=ID&attempt=N`
//! on 127.0.0.1. Refuses oversized bodies (413), unsigned or stale
//! deliveries (400) and forged ones (401); records a verified delivery once
//! and pokes the job's runner.

use super::signature::{self, Rejection, Signed};
use crate::model::{WebhookDelivery, WebhookStatus};
use crate::shared::Shared;
use crate::store::{now_ms, webhooks as q};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// A prediction object is a few kilobytes; anything this large is not one.
pub const MAX_BODY: usize = 1024 * 1024;

struct Receiver {
    sh: Arc<Shared>,
    /// Signing secrets by provider, fetched from the provider's API once.
    secrets: tokio::sync::Mutex<HashMap<String, String>>,
}

/// Bind and serve until the task is aborted; the status shows where.
pub async fn bind(sh: Arc<Shared>) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let port = sh.config.webhooks.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let receiver = Arc::new(Receiver {
        sh,
        secrets: tokio::sync::Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/webhooks/{provider}", post(deliver))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(receiver);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the webhook receiver stopped");
        }
    });
    Ok((addr, task))
}

#[derive(serde::Deserialize)]
struct Target {
    job: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn deliver(
    State(rx): State<Arc<Receiver>>,
    Path(provider): Path<String>,
    Query(target): Query<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let (status, outcome) = handle(&rx, &provider, target.job.as_deref(), &headers, &body).await;
    tracing::info!(provider = %provider, job_id = ?target.job, outcome = %outcome, "webhook delivery");
    let delivery = WebhookDelivery {
        at: now_ms(),
        provider,
        job_id: target.job,
        outcome,
    };
    rx.sh
        .set_webhook_status(|s| s.last_delivery = Some(delivery));
    status
}

async fn handle(
    rx: &Receiver,
    provider_id: &str,
    job: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, String) {
    let Some(provider) = rx.sh.providers.get(provider_id).cloned() else {
        return (StatusCode::NOT_FOUND, "refused: unknown provider".into());
    };
    let signed = Signed {
        id: header(headers, "webhook-id"),
        timestamp: header(headers, "webhook-timestamp"),
        signatures: header(headers, "webhook-signature"),
    };
    let now = now_ms() / 1000;
    // The secret is fetched (with the provider's key) only for a delivery
    // that could be genuine; a rotated secret is fetched again once.
    let mut verdict = Err(Rejection::BadSecret);
    for refresh in [false, true] {
        let secret = match secret_of(rx, provider.as_ref(), refresh).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                return (
                    StatusCode::NOT_FOUND,
                    "refused: provider has no webhooks".into(),
                )
            }
            Err(e) => {
                // The provider retries: no delivery is lost for this.
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("secret unavailable: {e}"),
                );
            }
        };
        verdict = signature::verify(&secret, &signed, body, now);
        if verdict != Err(Rejection::Forged) {
            break;
        }
    }
    match verdict {
        Ok(()) => {}
        Err(e @ (Rejection::Unsigned | Rejection::Stale)) => {
            return (StatusCode::BAD_REQUEST, format!("refused: {e}"))
        }
        Err(e) => return (StatusCode::UNAUTHORIZED, format!("refused: {e}")),
    }
    let Some(job_id) = job.filter(|j| !j.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "refused: no job in the URL".into());
    };
    let (p, d, j) = (
        provider_id.to_string(),
        signed.id.to_string(),
        job_id.to_string(),
    );
    let first = rx
        .sh
        .db(move |s| s.write(|tx| q::record_delivery(tx, &p, &d, &j, now_ms())))
        .await;
    match first {
        Ok(true) => {
            rx.sh.poke(job_id);
            (StatusCode::OK, "accepted".into())
        }
        Ok(false) => (StatusCode::OK, "duplicate".into()),
        // Not recorded: the provider delivers again later.
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not recorded: {e}"),
        ),
    }
}

async fn secret_of(
    rx: &Receiver,
    provider: &dyn crate::providers::Provider,
    refresh: bool,
) -> Result<Option<String>, String> {
    let mut secrets = rx.secrets.lock().await;
    if !refresh {
        if let Some(secret) = secrets.get(provider.id()) {
            return Ok(Some(secret.clone()));
        }
    }
    let key = rx
        .sh
        .keys
        .require(provider.id())
        .await
        .map_err(|e| e.to_string())?;
    let secret = provider
        .webhook_secret(&key)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(secret) = &secret {
        secrets.insert(provider.id().to_string(), secret.clone());
    }
    Ok(secret)
}

/// Start the receiver when enabled; the status says where or why not.
pub async fn start(sh: &Arc<Shared>) -> Option<tokio::task::JoinHandle<()>> {
    let settings = &sh.config.webhooks;
    // Only what running it says; `enabled` and `public_url` are the
    // configuration's, read by `Engine::webhook_status`.
    let mut status = WebhookStatus::default();
    let task = if settings.enabled {
        match bind(Arc::clone(sh)).await {
            Ok((addr, task)) => {
                tracing::info!(%addr, "webhook receiver listening");
                status.listening = Some(addr.to_string());
                Some(task)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the webhook receiver cannot listen");
                status.error = Some(format!("cannot listen on 127.0.0.1:{}: {e}", settings.port));
                None
            }
        }
    } else {
        None
    };
    sh.set_webhook_status(|s| {
        let last = s.last_delivery.take();
        *s = status;
        s.last_delivery = last;
    });
    task
}
