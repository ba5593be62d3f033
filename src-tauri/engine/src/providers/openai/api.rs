//! OpenAI Images request and answer shapes (as openai-python defines them);
//! unknown fields are ignored, so additions on OpenAI's side do not break.

use crate::providers::catalog::TokenPrices;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct GenerationRequest<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    pub n: u32,
    pub size: &'a str,
    pub output_format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<&'a str>,
    /// Stream the answer as events, with this many partial images first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_images: Option<u32>,
}

/// One event of a streamed answer: `image_generation.partial_image` and
/// `image_generation.completed` (`image_edit.*` for edits), or `error`.
#[derive(Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub b64_json: Option<String>,
    #[serde(default)]
    pub partial_image_index: Option<u32>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub revised_prompt: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub error: Option<StreamError>,
}

#[derive(Deserialize)]
pub struct StreamError {
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
pub struct ImagesResponse {
    #[serde(default)]
    pub created: i64,
    pub data: Vec<ImageData>,
    pub usage: Option<Usage>,
}

#[derive(Deserialize)]
pub struct ImageData {
    pub b64_json: String,
    pub revised_prompt: Option<String>,
}

/// `GET /models`.
#[derive(Deserialize)]
pub struct ModelList {
    pub data: Vec<ListedModel>,
}

#[derive(Deserialize)]
pub struct ListedModel {
    pub id: String,
    /// `YYYY-MM-DD` for a model OpenAI has scheduled to shut down.
    #[serde(default)]
    pub shutdown_date: Option<String>,
}

#[derive(Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
}

#[derive(Deserialize)]
pub struct InputDetails {
    #[serde(default)]
    pub text_tokens: u64,
    #[serde(default)]
    pub image_tokens: u64,
}

impl Usage {
    /// What the request cost, from its token usage.
    pub fn cost_micros(&self, prices: &TokenPrices) -> i64 {
        let (text, image) = match &self.input_tokens_details {
            Some(d) => (d.text_tokens, d.image_tokens),
            None => (self.input_tokens, 0),
        };
        let micros = text * u64::from(prices.text_input)
            + image * u64::from(prices.image_input)
            + self.output_tokens * u64::from(prices.image_output);
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_priced_per_kind_of_token() {
        let prices = TokenPrices {
            text_input: 5,
            image_input: 10,
            image_output: 40,
        };
        let usage: Usage = serde_json::from_str(
            r#"{"input_tokens": 60, "input_tokens_details": {"text_tokens": 10, "image_tokens": 50}, "output_tokens": 1000, "total_tokens": 1060}"#,
        )
        .expect("usage");
        assert_eq!(usage.cost_micros(&prices), 10 * 5 + 50 * 10 + 1000 * 40);
        let plain: Usage =
            serde_json::from_str(r#"{"input_tokens": 8, "output_tokens": 272}"#).expect("usage");
        assert_eq!(plain.cost_micros(&prices), 8 * 5 + 272 * 40);
    }
}
