//! The Replicate models Easel knows by name, and how a job becomes a
//! model's input. Any other `owner/name` (or `owner/name:version`) is
//! accepted as typed, with the common Stable Diffusion style input.

use crate::model::JobSpec;
use crate::providers::catalog::{aspect_sizes, ParamChoice};
use crate::providers::{Capabilities, ModelInfo, ParamKind, ParamSpec, Price, SizeRule};
use serde_json::{json, Map, Value};

pub const FLUX_SCHNELL: &str = "black-forest-labs/flux-schnell";
pub const FLUX_DEV: &str = "black-forest-labs/flux-dev";

/// The aspect ratios FLUX models on Replicate take (`aspect_ratio`); a
/// job's width × height is sent as the nearest one, and the image that
/// comes back is recorded at its real size.
const FLUX_RATIOS: &[(u32, u32)] = &[
    (1, 1),
    (16, 9),
    (21, 9),
    (3, 2),
    (2, 3),
    (4, 5),
    (5, 4),
    (3, 4),
    (4, 3),
    (9, 16),
    (9, 21),
];

/// FLUX's `megapixels` choices on Replicate, as size tiers.
const FLUX_TIERS: &[(&str, f64)] = &[("1 MP", 1.0), ("0.25 MP", 0.25)];

fn megapixels(tier: &str) -> Option<&'static str> {
    match tier {
        "1 MP" => Some("1"),
        "0.25 MP" => Some("0.25"),
        _ => None,
    }
}

/// A FLUX model: aspect ratio × megapixels, a step count up to
/// `max_steps`, Replicate's "go fast" (a quantized run) and the output
/// format. The defaults are the models' own, except the format: PNG is
/// lossless, and the library keeps what comes back.
fn flux(id: &str, name: &str, price_micros: i64, max_steps: i64, steps: i64) -> ModelInfo {
    ModelInfo {
        id: id.into(),
        name: name.into(),
        // Multiples of 64 give FLUX's own sizes (1:1 at 1 MP is 1024²).
        sizes: aspect_sizes(FLUX_RATIOS, FLUX_TIERS, 64),
        max_count: 4,
        max_reference_images: 0,
        max_reference_bytes: 0,
        negative_prompt: false,
        params: vec![
            ParamSpec {
                id: "num_inference_steps".into(),
                name: "Steps".into(),
                kind: ParamKind::Int {
                    min: 1,
                    max: max_steps,
                    default: steps,
                },
            },
            ParamSpec {
                id: "go_fast".into(),
                name: "Go fast".into(),
                kind: ParamKind::Bool { default: true },
            },
            ParamSpec {
                id: "output_format".into(),
                name: "Format".into(),
                kind: ParamKind::Choice {
                    options: vec![
                        ParamChoice::new("png", "PNG"),
                        ParamChoice::new("webp", "WebP"),
                        ParamChoice::new("jpg", "JPEG"),
                    ],
                    default: "png".into(),
                },
            },
        ],
        price: Price::per_image(price_micros),
    }
}

pub fn capabilities() -> Capabilities {
    Capabilities {
        models: vec![
            // Replicate's published per-image prices for these official models.
            flux(FLUX_SCHNELL, "FLUX.1 [schnell]", 3_000, 4, 4),
            flux(FLUX_DEV, "FLUX.1 [dev]", 25_000, 50, 28),
        ],
        default_model: FLUX_SCHNELL.into(),
        // Rules for an `owner/name` not in the list above: its price is not
        // known until Replicate bills it.
        other_models: Some(ModelInfo {
            id: String::new(),
            name: "Any Replicate model (owner/name)".into(),
            sizes: SizeRule::Free {
                min_side: 64,
                max_side: 2048,
                multiple: 8,
                max_pixels: None,
                max_aspect: None,
            },
            max_count: 4,
            max_reference_images: 0,
            max_reference_bytes: 0,
            negative_prompt: true,
            params: Vec::new(),
            price: Price::per_image(0),
        }),
        needs_key: true,
        progress: true,
        cancel: true,
        // No idempotency key, but reconciliation by listing finds a lost
        // submit (see `find_submitted`).
        reconciliation: crate::providers::Reconciliation::Listing,
        // Replicate's own clients poll about once a second.
        poll_interval_ms: 1_000,
        // Replicate ends predictions that outrun its own limits long before
        // this; one still "processing" after two hours is not coming back.
        processing_deadline_ms: Some(2 * 3_600_000),
    }
}

/// Models fast enough to answer within `Prefer: wait`.
pub fn is_fast(model: &str) -> bool {
    model == FLUX_SCHNELL
}

fn is_flux(model: &str) -> bool {
    model == FLUX_SCHNELL || model == FLUX_DEV
}

/// The `aspect_ratio` nearest to `width`×`height` (compared in log space,
/// so 2:1 is as far from 1:1 as 1:2 is).
pub fn nearest_ratio(width: u32, height: u32) -> String {
    let want = (f64::from(width.max(1)) / f64::from(height.max(1))).ln();
    let mut best = (f64::MAX, (1, 1));
    for &(w, h) in FLUX_RATIOS {
        let d = ((f64::from(w) / f64::from(h)).ln() - want).abs();
        if d < best.0 {
            best = (d, (w, h));
        }
    }
    format!("{}:{}", best.1 .0, best.1 .1)
}

/// The prediction input for a job. Deterministic: reconciliation finds a
/// lost submit by comparing Replicate's stored input with this.
pub fn input(spec: &JobSpec) -> Value {
    let mut input = Map::new();
    input.insert("prompt".into(), json!(spec.prompt));
    if is_flux(&spec.model) {
        let listed = capabilities()
            .model(&spec.model)
            .and_then(|m| m.sizes.option(spec.width, spec.height).cloned());
        match listed {
            // A job from before the catalog listed sizes (and parameters)
            // is sent exactly as it was then, so a lost submit of it is
            // still recognized in Replicate's listing.
            Some(size) if !spec.params.is_empty() => {
                input.insert("aspect_ratio".into(), json!(size.label));
                if let Some(mp) = size.tier.as_deref().and_then(megapixels) {
                    input.insert("megapixels".into(), json!(mp));
                }
                for (name, value) in &spec.params {
                    input.insert(name.clone(), value.to_json());
                }
            }
            _ => {
                input.insert(
                    "aspect_ratio".into(),
                    json!(nearest_ratio(spec.width, spec.height)),
                );
                input.insert("output_format".into(), json!("png"));
            }
        }
    } else {
        input.insert("width".into(), json!(spec.width));
        input.insert("height".into(), json!(spec.height));
        if let Some(negative) = &spec.negative_prompt {
            input.insert("negative_prompt".into(), json!(negative));
        }
    }
    input.insert("num_outputs".into(), json!(spec.count));
    input.insert("seed".into(), json!(spec.seed));
    Value::Object(input)
}

/// Whether `id` is a Replicate model id: `owner/name` or
/// `owner/name:version`, in the characters Replicate allows.
pub fn is_model_id(id: &str) -> bool {
    let (model, version) = match id.split_once(':') {
        Some((m, v)) => (m, Some(v)),
        None => (id, None),
    };
    let part = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    let model_ok = model
        .split_once('/')
        .is_some_and(|(o, n)| part(o) && part(n));
    let version_ok =
        version.is_none_or(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit()));
    model_ok && version_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_the_nearest_ratio() {
        assert_eq!(nearest_ratio(1024, 1024), "1:1");
        assert_eq!(nearest_ratio(1344, 768), "16:9");
        assert_eq!(nearest_ratio(768, 1344), "9:16");
        assert_eq!(nearest_ratio(1200, 800), "3:2");
        assert_eq!(nearest_ratio(1440, 256), "21:9");
    }

    #[test]
    fn model_ids_as_replicate_spells_them() {
        assert!(is_model_id("black-forest-labs/flux-schnell"));
        assert!(is_model_id(
            "stability-ai/sdxl:7762fd07cf82c948538e41f63f77d685e02b063e37e496e96eefd46c929f9bdc"
        ));
        for bad in [
            "flux", "/x", "a/", "a/b/c", "a/b:", "a/b:xyz", "a b/c", "../x",
        ] {
            assert!(!is_model_id(bad), "{bad}");
        }
    }
}
