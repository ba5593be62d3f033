//! Provider keys as the app manages them: which providers can be used, and
//! storing, removing and testing a key. The keys themselves stay in the
//! keychain (`secrets`); only their state crosses to the UI.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::providers::{Capabilities, FailureKind, Provider, ProviderInfo};
use crate::secrets::ApiKey;
use serde::Serialize;
use std::sync::Arc;
use ts_rs::TS;

/// What the Test button found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct KeyCheck {
    pub provider: String,
    pub ok: bool,
    /// What to tell the user, free of secrets.
    pub message: String,
}

impl Engine {
    /// Every provider with its models and whether it can be used now.
    pub async fn provider_infos(&self) -> Vec<ProviderInfo> {
        let mut infos = Vec::new();
        for (id, capabilities) in self.providers() {
            infos.push(self.provider_info(id, capabilities).await);
        }
        infos
    }

    async fn provider_info(&self, id: &str, capabilities: Capabilities) -> ProviderInfo {
        let shutdowns = self
            .shared
            .shutdowns
            .read()
            .map(|all| all.get(id).cloned().unwrap_or_default())
            .unwrap_or_default();
        let name = self.shared.providers.get(id).map_or(id, |p| p.name());
        ProviderInfo {
            id: id.to_string(),
            name: name.to_string(),
            key: self.shared.keys.state(id, capabilities.needs_key).await,
            capabilities,
            shutdowns,
        }
    }

    /// Read each keyed provider's model listing for announced shutdown
    /// dates (shown next to the model). A provider without a key or a
    /// listing is skipped; a failed listing keeps what was known.
    pub async fn refresh_models(&self) {
        for (id, capabilities) in self.providers() {
            let Some(provider) = self.shared.providers.get(id).cloned() else {
                continue;
            };
            if !capabilities.needs_key {
                continue;
            }
            let Ok(Some(key)) = self.shared.keys.get(id).await else {
                continue;
            };
            match provider.list_models(&key).await {
                Ok(Some(models)) => {
                    let dates = models
                        .into_iter()
                        .filter_map(|m| Some((m.id, m.shutdown_date?)))
                        .collect();
                    if let Ok(mut all) = self.shared.shutdowns.write() {
                        all.insert(id.to_string(), dates);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(provider = id, error = %e, "cannot read the model listing")
                }
            }
        }
    }

    /// A provider that takes a key, or a clear error.
    fn keyed_provider(&self, id: &str) -> Result<Arc<dyn Provider>, EngineError> {
        let provider = self
            .shared
            .providers
            .get(id)
            .ok_or_else(|| EngineError::UnknownProvider(id.to_string()))?;
        if !provider.capabilities().needs_key {
            return Err(EngineError::InvalidInput(format!("{id} needs no API key")));
        }
        Ok(Arc::clone(provider))
    }

    /// Check the pasted key's form and store it in the keychain.
    pub async fn set_api_key(
        &self,
        provider: &str,
        text: &str,
    ) -> Result<ProviderInfo, EngineError> {
        let p = self.keyed_provider(provider)?;
        let key = ApiKey::parse(text).map_err(EngineError::InvalidInput)?;
        self.shared.keys.set(provider, key).await?;
        tracing::info!(provider, "api key stored in the keychain");
        // Jobs waiting on a retry after an auth failure may go now.
        self.shared.wake.notify_one();
        Ok(self.provider_info(provider, p.capabilities().clone()).await)
    }

    pub async fn delete_api_key(&self, provider: &str) -> Result<ProviderInfo, EngineError> {
        let p = self.keyed_provider(provider)?;
        let existed = self.shared.keys.delete(provider).await?;
        tracing::info!(provider, existed, "api key removed from the keychain");
        Ok(self.provider_info(provider, p.capabilities().clone()).await)
    }

    /// Ask the provider whether a key works: `candidate` (what the user is
    /// typing, not stored) or else the stored key. A refused key is an
    /// answer, not an error; errors are for what the user can't test.
    pub async fn test_api_key(
        &self,
        provider: &str,
        candidate: Option<&str>,
    ) -> Result<KeyCheck, EngineError> {
        let p = self.keyed_provider(provider)?;
        let key = match candidate.filter(|c| !c.trim().is_empty()) {
            Some(text) => ApiKey::parse(text).map_err(EngineError::InvalidInput)?,
            None => self
                .shared
                .keys
                .get(provider)
                .await?
                .ok_or_else(|| EngineError::MissingKey(provider.to_string()))?,
        };
        let (ok, message) = match p.check_key(&key).await {
            Ok(()) => (true, format!("{provider} accepted the key")),
            Err(e) if e.kind == FailureKind::Auth => {
                (false, format!("{provider} refused the key: {}", e.message))
            }
            Err(e) => (
                false,
                format!("could not check the key with {provider}: {}", e.message),
            ),
        };
        tracing::info!(provider, ok, "api key tested");
        Ok(KeyCheck {
            provider: provider.to_string(),
            ok,
            message,
        })
    }
}
