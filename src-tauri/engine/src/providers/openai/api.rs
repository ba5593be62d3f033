//! OpenAI Images request and answer shapes (as openai-python defines them);
//! unknown fields are ignored, so additions on OpenAI's side do not break.

use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct GenerationRequest<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    pub n: u32,
    pub size: &'a str,
    pub output_format: &'a str,
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

#[derive(Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}
