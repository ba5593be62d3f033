//! Source images and their generation parameters for the benches that save
//! or thumbnail what the offline provider renders.
// Each bench includes this file and uses part of it.
#![allow(dead_code)]

use easel_engine::library::metadata::GenerationParams;
use image::{DynamicImage, ImageFormat};
use std::io::Cursor;

/// The offline provider's picture of a lighthouse, `side` pixels square,
/// encoded as PNG.
pub fn offline_png(seed: u64, side: u32) -> Vec<u8> {
    let img =
        easel_engine::providers::offline::render::render("a lighthouse at dusk", seed, side, side);
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// What a job of that picture would embed in its file.
pub fn params(job_id: String, seed: u64, side: u32) -> GenerationParams {
    GenerationParams {
        job_id,
        output_index: 0,
        prompt: "a lighthouse at dusk, oil painting, golden hour".into(),
        negative_prompt: None,
        seed: Some(seed),
        revised_prompt: None,
        width: side,
        height: side,
        provider: "offline".into(),
        model: "offline-sketch".into(),
        created_at: chrono::Utc::now(),
    }
}
