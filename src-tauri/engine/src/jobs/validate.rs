//! Checks on what the user asked for, before anything is stored.

use crate::error::EngineError;
use crate::model::{JobSpec, NewJob};
use crate::providers::Registry;
use crate::references::MAX_REFERENCES_PER_JOB;

pub const MAX_PROMPT_CHARS: usize = 32_000;
pub const MAX_REQUEST_ID_CHARS: usize = 128;
/// Seeds travel to the UI as JSON numbers: stay exact in JavaScript.
pub const MAX_SEED: u64 = (1 << 53) - 1;

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidInput(msg.into())
}

pub fn request_id(id: &str) -> Result<(), EngineError> {
    if id.trim().is_empty() {
        return Err(invalid("the request id is empty"));
    }
    if id.chars().count() > MAX_REQUEST_ID_CHARS {
        return Err(invalid(format!(
            "the request id is longer than {MAX_REQUEST_ID_CHARS} characters"
        )));
    }
    Ok(())
}

/// Resolve defaults and check every field against the provider's model.
pub fn spec(
    job: &NewJob,
    default_provider: &str,
    registry: &Registry,
) -> Result<JobSpec, EngineError> {
    let prompt = job.prompt.trim();
    if prompt.is_empty() {
        return Err(invalid("the prompt is empty"));
    }
    let chars = prompt.chars().count();
    if chars > MAX_PROMPT_CHARS {
        return Err(invalid(format!(
            "the prompt has {chars} characters; the limit is {MAX_PROMPT_CHARS}"
        )));
    }
    let negative = job
        .negative_prompt
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if negative.is_some_and(|n| n.chars().count() > MAX_PROMPT_CHARS) {
        return Err(invalid(format!(
            "the negative prompt is longer than {MAX_PROMPT_CHARS} characters"
        )));
    }
    let provider_id = job.provider.as_deref().unwrap_or(default_provider);
    let provider = registry
        .get(provider_id)
        .ok_or_else(|| EngineError::UnknownProvider(provider_id.to_string()))?;
    let caps = provider.capabilities();
    let model_id = job.model.as_deref().unwrap_or(&caps.default_model);
    let model = provider
        .model(model_id)
        .ok_or_else(|| EngineError::UnknownModel {
            provider: provider_id.to_string(),
            model: model_id.to_string(),
            available: caps
                .models
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    model
        .sizes
        .check(job.width, job.height)
        .map_err(|why| invalid(format!("{model_id}: {why}")))?;
    if job.count == 0 || job.count > model.max_count {
        return Err(invalid(format!(
            "count {} is out of range for {model_id}: 1..={}",
            job.count, model.max_count
        )));
    }
    let references = job.reference_ids.len();
    let allowed = (model.max_reference_images as usize).min(MAX_REFERENCES_PER_JOB);
    if references > allowed {
        return Err(invalid(if allowed == 0 {
            format!("{model_id} does not take reference images")
        } else {
            format!("{model_id} takes at most {allowed} reference images, got {references}")
        }));
    }
    if negative.is_some() && !model.negative_prompt {
        return Err(invalid(format!(
            "{model_id} takes no negative prompt: describe what you want instead"
        )));
    }
    let params = model.resolve_params(&job.params).map_err(invalid)?;
    let mut seen = std::collections::HashSet::new();
    if !job.reference_ids.iter().all(|id| seen.insert(id)) {
        return Err(invalid("the same reference image is attached twice"));
    }
    let seed = match job.seed {
        Some(seed) if seed > MAX_SEED => {
            return Err(invalid(format!("seed {seed} is larger than {MAX_SEED}")))
        }
        Some(seed) => seed,
        None => u64::from(rand::random::<u32>()),
    };
    Ok(JobSpec {
        prompt: prompt.to_string(),
        negative_prompt: negative.map(str::to_string),
        provider: provider_id.to_string(),
        model: model_id.to_string(),
        width: job.width,
        height: job.height,
        count: job.count,
        seed,
        reference_ids: job.reference_ids.clone(),
        params,
    })
}

/// Parse "WxH".
pub fn parse_size(text: &str) -> Result<(u32, u32), EngineError> {
    let bad = || invalid(format!("size {text:?} is not WIDTHxHEIGHT, e.g. 1024x768"));
    let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    Ok((w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?))
}
