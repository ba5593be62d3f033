//! Models as data: what a model takes (sizes, image count, reference
//! images, a negative prompt, parameters of its own) and what it costs. The
//! engine checks a request against its model's entry before anything is
//! stored or sent, and the generate panel draws its controls from it.

pub use crate::model::{ParamValue, Params};
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ModelInfo {
    pub id: String,
    pub name: String,
    pub sizes: SizeRule,
    pub max_count: u32,
    /// Reference images the model takes (0: it does not edit or remix).
    pub max_reference_images: u32,
    /// The largest reference image file the model takes, in bytes.
    #[ts(type = "number")]
    pub max_reference_bytes: u64,
    /// Whether it takes a negative prompt.
    pub negative_prompt: bool,
    /// Its own settings (quality, output format, steps…), in display order.
    pub params: Vec<ParamSpec>,
    pub price: Price,
}

/// The sizes a model renders.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum SizeRule {
    /// Any width × height in range with both sides multiples of `multiple`,
    /// within the area and aspect caps where the model has them.
    Free {
        min_side: u32,
        max_side: u32,
        multiple: u32,
        #[ts(type = "number | null")]
        max_pixels: Option<u64>,
        /// Long side over short side, at most.
        max_aspect: Option<f64>,
    },
    /// One of a list of sizes.
    Fixed { sizes: Vec<SizeOption> },
    /// An aspect ratio at a size tier: every pair is listed with the size
    /// it stands for (the provider may return a slightly different one).
    Aspect {
        ratios: Vec<String>,
        tiers: Vec<String>,
        sizes: Vec<SizeOption>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct SizeOption {
    /// The aspect ratio (`16:9`) or the size's own name.
    pub label: String,
    /// The size tier (`1 MP`), for aspect ratio × tier models.
    pub tier: Option<String>,
    pub width: u32,
    pub height: u32,
}

impl SizeRule {
    /// The listed size `width` × `height` stands for (None for free sizes,
    /// or a size not in the list).
    pub fn option(&self, width: u32, height: u32) -> Option<&SizeOption> {
        match self {
            SizeRule::Free { .. } => None,
            SizeRule::Fixed { sizes } | SizeRule::Aspect { sizes, .. } => sizes
                .iter()
                .find(|s| s.width == width && s.height == height),
        }
    }

    /// Why the model cannot render `width` × `height`, if it cannot.
    pub fn check(&self, width: u32, height: u32) -> Result<(), String> {
        match self {
            SizeRule::Free {
                min_side,
                max_side,
                multiple,
                max_pixels,
                max_aspect,
            } => {
                for (name, side) in [("width", width), ("height", height)] {
                    if side < *min_side || side > *max_side {
                        return Err(format!(
                            "{name} {side} is out of range: {min_side}..={max_side}"
                        ));
                    }
                    if side % (*multiple).max(1) != 0 {
                        return Err(format!("{name} {side} must be a multiple of {multiple}"));
                    }
                }
                let pixels = u64::from(width) * u64::from(height);
                if let Some(max) = max_pixels.filter(|max| pixels > *max) {
                    return Err(format!(
                        "{width}×{height} is {pixels} pixels; the most is {max}"
                    ));
                }
                let (long, short) = (width.max(height), width.min(height));
                if let Some(max) = max_aspect.filter(|max| f64::from(long) > max * f64::from(short))
                {
                    return Err(format!(
                        "{width}×{height} is wider than the aspect ratio {max}:1 allows"
                    ));
                }
                Ok(())
            }
            SizeRule::Fixed { sizes } | SizeRule::Aspect { sizes, .. } => {
                if self.option(width, height).is_some() {
                    return Ok(());
                }
                let listed: Vec<String> = sizes
                    .iter()
                    .map(|s| format!("{}x{}", s.width, s.height))
                    .collect();
                Err(format!(
                    "{width}x{height} is not one of its sizes: {}",
                    listed.join(", ")
                ))
            }
        }
    }
}

/// A setting of a model's own.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ParamSpec {
    /// The name the provider's API uses.
    pub id: String,
    pub name: String,
    pub kind: ParamKind,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
#[ts(export)]
pub enum ParamKind {
    Choice {
        options: Vec<ParamChoice>,
        default: String,
    },
    Int {
        #[ts(type = "number")]
        min: i64,
        #[ts(type = "number")]
        max: i64,
        #[ts(type = "number")]
        default: i64,
    },
    Bool {
        default: bool,
    },
}

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ParamChoice {
    pub value: String,
    pub name: String,
    /// The estimate per image with this choice, where it changes the price
    /// (OpenAI's quality).
    #[ts(type = "number | null")]
    pub price_per_image_micros: Option<i64>,
}

impl ParamChoice {
    pub fn new(value: &str, name: &str) -> Self {
        ParamChoice {
            value: value.into(),
            name: name.into(),
            price_per_image_micros: None,
        }
    }

    pub fn priced(value: &str, name: &str, micros: i64) -> Self {
        ParamChoice {
            price_per_image_micros: Some(micros),
            ..ParamChoice::new(value, name)
        }
    }
}

/// What a model costs.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct Price {
    /// The estimate per image, reserved against the budget when a job is
    /// created (a parameter choice may set its own). For a model billed
    /// per image, also what a finished image is charged.
    #[ts(type = "number")]
    pub per_image_micros: i64,
    /// For a model billed by token (OpenAI), the price of each kind: the
    /// answer's token usage is what is charged.
    pub per_token: Option<TokenPrices>,
}

impl Price {
    pub fn per_image(micros: i64) -> Self {
        Price {
            per_image_micros: micros,
            per_token: None,
        }
    }
}

/// Micro-dollars per token (dollars per million tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct TokenPrices {
    pub text_input: u32,
    pub image_input: u32,
    pub image_output: u32,
}

impl ModelInfo {
    /// `params` checked against this model, with every default filled in:
    /// the stored request says exactly what was asked of the provider.
    pub fn resolve_params(&self, given: &Params) -> Result<Params, String> {
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.params.iter().any(|p| &p.id == *k))
        {
            let known: Vec<&str> = self.params.iter().map(|p| p.id.as_str()).collect();
            return Err(if known.is_empty() {
                format!("{} takes no parameters (got {unknown:?})", self.id)
            } else {
                format!(
                    "{} has no parameter {unknown:?}; it takes {}",
                    self.id,
                    known.join(", ")
                )
            });
        }
        let mut out = Params::new();
        for spec in &self.params {
            let value = match (given.get(&spec.id), &spec.kind) {
                (None, ParamKind::Choice { default, .. }) => ParamValue::Text(default.clone()),
                (None, ParamKind::Int { default, .. }) => ParamValue::Int(*default),
                (None, ParamKind::Bool { default }) => ParamValue::Bool(*default),
                (Some(v), kind) => check_value(&spec.id, v, kind)?,
            };
            out.insert(spec.id.clone(), value);
        }
        Ok(out)
    }

    /// The estimate per image for these (resolved) parameters.
    pub fn price_per_image(&self, params: &Params) -> i64 {
        self.params
            .iter()
            .find_map(|spec| match (&spec.kind, params.get(&spec.id)) {
                (ParamKind::Choice { options, .. }, Some(ParamValue::Text(v))) => options
                    .iter()
                    .find(|o| &o.value == v)
                    .and_then(|o| o.price_per_image_micros),
                _ => None,
            })
            .unwrap_or(self.price.per_image_micros)
    }

    /// A parameter's value as text (choices), from resolved parameters.
    pub fn text<'a>(params: &'a Params, id: &str) -> Option<&'a str> {
        params.get(id).and_then(ParamValue::as_str)
    }
}

fn check_value(id: &str, value: &ParamValue, kind: &ParamKind) -> Result<ParamValue, String> {
    // Text that reads as the parameter's type is taken as it (the CLI's
    // `--param steps=4`).
    let value = &match (kind, value) {
        (ParamKind::Int { .. }, ParamValue::Text(t)) => t
            .trim()
            .parse()
            .map_or_else(|_| value.clone(), ParamValue::Int),
        (ParamKind::Bool { .. }, ParamValue::Text(t)) => match t.trim() {
            "true" => ParamValue::Bool(true),
            "false" => ParamValue::Bool(false),
            _ => value.clone(),
        },
        _ => value.clone(),
    };
    match (kind, value) {
        (ParamKind::Choice { options, .. }, ParamValue::Text(v)) => {
            if options.iter().any(|o| &o.value == v) {
                Ok(value.clone())
            } else {
                let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
                Err(format!("{id} {v:?} is not one of {}", values.join(", ")))
            }
        }
        (ParamKind::Int { min, max, .. }, ParamValue::Int(v)) => {
            if (*min..=*max).contains(v) {
                Ok(value.clone())
            } else {
                Err(format!("{id} {v} is out of range: {min}..={max}"))
            }
        }
        (ParamKind::Bool { .. }, ParamValue::Bool(_)) => Ok(value.clone()),
        (kind, _) => Err(format!(
            "{id} must be {}",
            match kind {
                ParamKind::Choice { .. } => "text",
                ParamKind::Int { .. } => "a whole number",
                ParamKind::Bool { .. } => "true or false",
            }
        )),
    }
}

/// The sizes of an aspect-ratio × tier model: each ratio at each tier's
/// megapixels, both sides rounded to `multiple`.
pub fn aspect_sizes(ratios: &[(u32, u32)], tiers: &[(&str, f64)], multiple: u32) -> SizeRule {
    let m = f64::from(multiple.max(1));
    let mut sizes = Vec::new();
    for (tier, megapixels) in tiers {
        for (w, h) in ratios {
            let (rw, rh) = (f64::from(*w), f64::from(*h));
            let pixels = megapixels * 1_000_000.0;
            let width = ((pixels * rw / rh).sqrt() / m).round() * m;
            let height = ((pixels * rh / rw).sqrt() / m).round() * m;
            sizes.push(SizeOption {
                label: format!("{w}:{h}"),
                tier: Some((*tier).to_string()),
                // Whole multiples of a small number: exact in u32.
                width: width as u32,
                height: height as u32,
            });
        }
    }
    SizeRule::Aspect {
        ratios: ratios.iter().map(|(w, h)| format!("{w}:{h}")).collect(),
        tiers: tiers.iter().map(|(t, _)| (*t).to_string()).collect(),
        sizes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(sizes: SizeRule, params: Vec<ParamSpec>) -> ModelInfo {
        ModelInfo {
            id: "m".into(),
            name: "M".into(),
            sizes,
            max_count: 4,
            max_reference_images: 0,
            max_reference_bytes: 0,
            negative_prompt: true,
            params,
            price: Price::per_image(10),
        }
    }

    #[test]
    fn free_sizes_keep_their_caps() {
        let rule = SizeRule::Free {
            min_side: 256,
            max_side: 3840,
            multiple: 16,
            max_pixels: Some(3840 * 2160),
            max_aspect: Some(3.0),
        };
        assert!(rule.check(1024, 1024).is_ok());
        assert!(rule.check(3840, 2160).is_ok());
        assert!(rule.check(3840, 3840).unwrap_err().contains("pixels"));
        assert!(rule.check(3072, 768).unwrap_err().contains("aspect"));
        assert!(rule
            .check(1000, 1024)
            .unwrap_err()
            .contains("multiple of 16"));
        assert!(rule.check(128, 1024).unwrap_err().contains("out of range"));
    }

    #[test]
    fn listed_sizes_take_only_their_sizes() {
        let rule = aspect_sizes(&[(1, 1), (16, 9)], &[("1 MP", 1.0), ("0.25 MP", 0.25)], 64);
        let SizeRule::Aspect { sizes, .. } = &rule else {
            panic!("aspect rule");
        };
        assert_eq!(sizes.len(), 4);
        let wide = rule.option(1344, 768).expect("16:9 at 1 MP");
        assert_eq!(
            (wide.label.as_str(), wide.tier.as_deref()),
            ("16:9", Some("1 MP"))
        );
        assert_eq!(
            rule.option(512, 512).and_then(|s| s.tier.as_deref()),
            Some("0.25 MP")
        );
        assert!(rule.check(1024, 1024).is_ok());
        assert!(rule
            .check(1000, 1000)
            .unwrap_err()
            .contains("not one of its sizes"));
    }

    #[test]
    fn params_are_checked_and_defaults_filled_in() {
        let m = model(
            SizeRule::Fixed { sizes: vec![] },
            vec![
                ParamSpec {
                    id: "quality".into(),
                    name: "Quality".into(),
                    kind: ParamKind::Choice {
                        options: vec![
                            ParamChoice::priced("low", "Low", 5),
                            ParamChoice::priced("high", "High", 50),
                        ],
                        default: "low".into(),
                    },
                },
                ParamSpec {
                    id: "steps".into(),
                    name: "Steps".into(),
                    kind: ParamKind::Int {
                        min: 1,
                        max: 4,
                        default: 4,
                    },
                },
            ],
        );
        let resolved = m.resolve_params(&Params::new()).expect("defaults");
        assert_eq!(resolved["quality"], ParamValue::Text("low".into()));
        assert_eq!(resolved["steps"], ParamValue::Int(4));
        assert_eq!(m.price_per_image(&resolved), 5);

        let high = Params::from([("quality".into(), ParamValue::Text("high".into()))]);
        assert_eq!(m.price_per_image(&m.resolve_params(&high).expect("ok")), 50);

        let bad = |k: &str, v: ParamValue| m.resolve_params(&Params::from([(k.into(), v)]));
        assert!(bad("quality", ParamValue::Text("ultra".into()))
            .unwrap_err()
            .contains("not one of low, high"));
        assert!(bad("steps", ParamValue::Int(9))
            .unwrap_err()
            .contains("1..=4"));
        assert!(bad("steps", ParamValue::Text("four".into()))
            .unwrap_err()
            .contains("whole number"));
        let typed = Params::from([("steps".into(), ParamValue::Text("3".into()))]);
        assert_eq!(
            m.resolve_params(&typed).expect("ok")["steps"],
            ParamValue::Int(3)
        );
        assert!(bad("style", ParamValue::Bool(true))
            .unwrap_err()
            .contains("takes quality, steps"));
    }

    #[test]
    fn values_come_from_plain_json() {
        let p: Params = serde_json::from_str(r#"{"a": true, "b": 3, "c": "x"}"#).expect("params");
        assert_eq!(p["a"], ParamValue::Bool(true));
        assert_eq!(p["b"], ParamValue::Int(3));
        assert_eq!(p["c"], ParamValue::Text("x".into()));
    }
}
