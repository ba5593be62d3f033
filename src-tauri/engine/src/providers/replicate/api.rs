//! Replicate's request and answer shapes (as its OpenAPI schema and client
//! libraries define them); unknown fields are ignored and unknown statuses
//! kept as text, so additions on Replicate's side do not break.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize)]
pub struct CreatePrediction<'a> {
    pub input: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_events_filter: Option<&'a [&'a str]>,
}

#[derive(Debug, Deserialize)]
pub struct Prediction {
    pub id: String,
    #[serde(default)]
    pub model: Option<String>,
    /// `starting`, `processing`, `succeeded`, `failed`, `canceled`, and
    /// `aborted` (a `Cancel-After` deadline hit before it started).
    pub status: String,
    #[serde(default)]
    pub input: Value,
    /// Any JSON: a URL (or `data:` URI) or a list of them for image models.
    #[serde(default)]
    pub output: Value,
    #[serde(default)]
    pub error: Value,
    #[serde(default)]
    pub logs: Option<String>,
    #[serde(default)]
    pub data_removed: bool,
    #[serde(default)]
    pub urls: Option<Urls>,
    #[serde(default)]
    pub webhook: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Urls {
    pub get: Option<String>,
    pub cancel: Option<String>,
}

/// One page of `GET /predictions` (newest first).
#[derive(Debug, Deserialize)]
pub struct PredictionPage {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub results: Vec<Prediction>,
}

/// `GET /webhooks/default/secret`.
#[derive(Debug, Deserialize)]
pub struct WebhookSecret {
    pub key: String,
}

impl Prediction {
    /// The output files' URLs, in order (one URL or a list of them).
    pub fn output_urls(&self) -> Vec<String> {
        match &self.output {
            Value::String(url) => vec![url.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The model's error as text (a string, or any JSON).
    pub fn error_text(&self) -> String {
        match &self.error {
            Value::String(s) => s.clone(),
            Value::Null => "the model failed without saying why".into(),
            other => other.to_string(),
        }
    }

    /// Progress from the last `NN%` in the logs (diffusion models log a
    /// tqdm bar per step), as 0..=1.
    pub fn progress(&self) -> Option<f64> {
        let logs = self.logs.as_deref()?;
        let end = logs.rfind('%')?;
        let digits: String = logs[..end]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let percent: f64 = digits.parse().ok()?;
        (percent <= 100.0).then_some(percent / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prediction(v: Value) -> Prediction {
        serde_json::from_value(v).expect("a prediction")
    }

    #[test]
    fn outputs_as_one_url_or_a_list() {
        let one =
            prediction(json!({"id": "a", "status": "succeeded", "output": "https://x/0.png"}));
        assert_eq!(one.output_urls(), vec!["https://x/0.png"]);
        let list = prediction(
            json!({"id": "a", "status": "succeeded", "output": ["https://x/0.png", "data:image/png;base64,AA=="]}),
        );
        assert_eq!(list.output_urls().len(), 2);
        let none = prediction(json!({"id": "a", "status": "succeeded", "output": null}));
        assert!(none.output_urls().is_empty());
    }

    #[test]
    fn progress_from_the_last_percentage_in_the_logs() {
        let p = prediction(json!({
            "id": "a", "status": "processing",
            "logs": "Using seed: 5\n 25%|██   | 1/4\n 75%|████ | 3/4"
        }));
        assert_eq!(p.progress(), Some(0.75));
        let none = prediction(json!({"id": "a", "status": "starting", "logs": "loading"}));
        assert_eq!(none.progress(), None);
        let bogus = prediction(json!({"id": "a", "status": "starting", "logs": "1000%"}));
        assert_eq!(bogus.progress(), None);
    }

    #[test]
    fn unknown_statuses_and_fields_are_kept_not_refused() {
        let p = prediction(json!({"id": "a", "status": "aborted", "new_field": 1}));
        assert_eq!(p.status, "aborted");
        assert_eq!(p.error_text(), "the model failed without saying why");
    }
}
