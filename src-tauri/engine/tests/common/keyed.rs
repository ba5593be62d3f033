//! A test double for a cloud provider that needs an API key: it uses the
//! key the engine gives each call, as a real one does, accepts only
//! `ACCEPTED`, and records which keys it was sent.

use async_trait::async_trait;
use easel_engine::providers::offline::render::render_png;
use easel_engine::providers::{
    Capabilities, FailureKind, Output, PollStatus, Provider, ProviderError, SubmitRequest,
    Submitted,
};
use easel_engine::{ApiKey, JobSpec, Keys};
use std::sync::{Arc, Mutex};

pub const ACCEPTED: &str = "sk-live-Easel4242";

pub struct Keyed {
    caps: Capabilities,
    /// Every key a call carried, in order.
    pub sent: Mutex<Vec<String>>,
}

impl Keyed {
    pub fn new(_keys: &Keys) -> Arc<Keyed> {
        Arc::new(Keyed {
            caps: Capabilities {
                needs_key: true,
                ..super::test_capabilities("k1", 0)
            },
            sent: Mutex::new(Vec::new()),
        })
    }

    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("lock").clone()
    }

    /// What a real provider does with the key: send it, and be refused if
    /// it is wrong.
    fn authorize(&self, key: Option<&ApiKey>) -> Result<(), ProviderError> {
        let Some(key) = key else {
            return Err(ProviderError::new(FailureKind::Auth, "no key given"));
        };
        self.sent
            .lock()
            .expect("lock")
            .push(key.expose().to_string());
        if key.expose() == ACCEPTED {
            Ok(())
        } else {
            let mut e = ProviderError::new(FailureKind::Auth, "invalid api key (401)");
            e.http_status = Some(401);
            Err(e)
        }
    }
}

#[async_trait]
impl Provider for Keyed {
    fn id(&self) -> &'static str {
        "keyed"
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError> {
        self.authorize(req.key)?;
        Ok(Submitted::Pending(format!("k-{}", req.idempotency_key)))
    }
    async fn find_submitted(&self, _: &SubmitRequest<'_>) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }
    async fn poll(
        &self,
        _: &str,
        _: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError> {
        self.authorize(key)?;
        Ok(PollStatus::Done)
    }
    async fn fetch_outputs(
        &self,
        _: &str,
        spec: &JobSpec,
        key: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError> {
        self.authorize(key)?;
        (0..spec.count)
            .map(|i| {
                render_png("keyed", u64::from(i), spec.width, spec.height)
                    .map(Output::image)
                    .map_err(|e| ProviderError::new(FailureKind::Fatal, e.to_string()))
            })
            .collect()
    }
    async fn cancel(&self, _: &str, _: Option<&ApiKey>) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn check_key(&self, key: &ApiKey) -> Result<(), ProviderError> {
        self.authorize(Some(key))
    }
}
