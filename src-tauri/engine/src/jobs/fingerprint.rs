//! The fingerprint of a request: what makes two sends under one request id
//! "the same request". It hashes the request as the user sent it, lightly
//! normalized (whitespace around prompts, an empty negative prompt), not the
//! resolved job: a request without a seed gets a random one, and a changed
//! default provider must not turn an IPC retry into a conflict.

use crate::model::{NewJob, Params};
use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Serialize)]
struct Normalized<'a> {
    v: u8,
    prompt: &'a str,
    negative_prompt: Option<&'a str>,
    provider: Option<&'a str>,
    model: Option<&'a str>,
    width: u32,
    height: u32,
    count: u32,
    seed: Option<u64>,
    reference_ids: &'a [String],
    /// Left out when empty: requests from before parameters existed keep
    /// their fingerprint.
    #[serde(skip_serializing_if = "Params::is_empty")]
    params: &'a Params,
}

/// Hex SHA-256 of the normalized request.
pub fn of(new: &NewJob) -> String {
    let opt = |s: &Option<String>| -> Option<String> {
        s.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let (negative, provider, model) = (
        opt(&new.negative_prompt),
        opt(&new.provider),
        opt(&new.model),
    );
    let n = Normalized {
        v: 1,
        prompt: new.prompt.trim(),
        negative_prompt: negative.as_deref(),
        provider: provider.as_deref(),
        model: model.as_deref(),
        width: new.width,
        height: new.height,
        count: new.count,
        seed: new.seed,
        reference_ids: &new.reference_ids,
        params: &new.params,
    };
    // Serializing a struct of plain fields cannot fail; an empty input
    // would still be a stable (if useless) fingerprint.
    let json = serde_json::to_vec(&n).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(prompt: &str, seed: Option<u64>) -> NewJob {
        NewJob {
            request_id: "r".into(),
            prompt: prompt.into(),
            negative_prompt: Some("  ".into()),
            provider: None,
            model: None,
            width: 64,
            height: 64,
            count: 1,
            seed,
            reference_ids: vec![],
            params: Default::default(),
        }
    }

    #[test]
    fn same_request_same_fingerprint_and_different_request_differs() {
        assert_eq!(of(&job("a lake", None)), of(&job("  a lake ", None)));
        let mut no_negative = job("a lake", None);
        no_negative.negative_prompt = None;
        assert_eq!(of(&job("a lake", None)), of(&no_negative));
        assert_ne!(of(&job("a lake", None)), of(&job("a river", None)));
        assert_ne!(of(&job("a lake", None)), of(&job("a lake", Some(3))));
    }
}
