//! `cargo bench -p easel-engine --bench thumbnail`
//!
//! A 2048×2048 PNG output to a 384-pixel PNG thumbnail, as the library
//! makes it (decode under limits, SIMD resize with `fast_image_resize`:
//! Lanczos3 from a box-filtered 2× intermediate, PNG encode at the fast
//! deflate level), against the plain way with the same crates:
//! `image::load_from_memory`, `image::imageops::resize` with Lanczos3, PNG
//! encode. The summary gives the PSNR of ours against the plain Lanczos3
//! thumbnail (above 40 dB the difference cannot be seen).
//!
//! Prints `BENCH|…` lines for `scripts/bench.sh`.

#[path = "support/images.rs"]
mod images;

use criterion::Criterion;
use easel_engine::library::thumbnail::thumbnail_png;
use easel_engine::library::validate::{validate, ImageLimits};
use image::{DynamicImage, ImageFormat};
use std::hint::black_box;
use std::io::Cursor;
use std::time::{Duration, Instant};

const SIDE: u32 = 2048;
const THUMB: u32 = 384;

fn ours(png: &[u8]) -> Vec<u8> {
    let decoded = validate(png, &ImageLimits::default()).expect("valid");
    thumbnail_png(&decoded.image, THUMB).expect("thumbnail")
}

fn plain(png: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(png).expect("decode");
    let small = image::imageops::resize(
        &img.to_rgb8(),
        THUMB,
        THUMB,
        image::imageops::FilterType::Lanczos3,
    );
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(small)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let (a, b) = (
        image::load_from_memory(a).expect("a").to_rgb8(),
        image::load_from_memory(b).expect("b").to_rgb8(),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let png = images::offline_png(7, SIDE);
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    c.bench_function("thumbnail 2048² PNG → 384 (Easel)", |b| {
        b.iter(|| ours(black_box(&png)))
    });
    c.bench_function("thumbnail 2048² PNG → 384 (image Lanczos3)", |b| {
        b.iter(|| plain(black_box(&png)))
    });

    // Interleaved medians for the ratio.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        black_box(ours(&png));
        a.push(t.elapsed());
        let t = Instant::now();
        black_box(plain(&png));
        b.push(t.elapsed());
    }
    let (a, b) = (median(a), median(b));
    // Where the time goes: the decode both sides share.
    let mut d = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        black_box(validate(&png, &ImageLimits::default()).expect("valid"));
        d.push(t.elapsed());
    }
    let decode = median(d);
    println!(
        "decode alone (both sides): {:.1} ms; so Easel's resize + encode {:.1} ms, the plain one's {:.1} ms",
        decode.as_secs_f64() * 1e3,
        (a.saturating_sub(decode)).as_secs_f64() * 1e3,
        (b.saturating_sub(decode)).as_secs_f64() * 1e3
    );
    let quality = psnr(&ours(&png), &plain(&png));
    println!();
    println!("== summary (medians) ==");
    println!(
        "thumbnail: Easel {:.1} ms, image Lanczos3 {:.1} ms, {:.2}x faster; PSNR between them {quality:.1} dB",
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        b.as_secs_f64() / a.as_secs_f64()
    );
    // Speed-up: baseline time over ours (higher is better).
    println!(
        "BENCH|thumbnail 2048² PNG → 384 px vs image Lanczos3 (PSNR {quality:.0} dB to it)|{:.1} ms|{:.1} ms|{:.2}|≥ 3× faster|{}",
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        b.as_secs_f64() / a.as_secs_f64(),
        b.as_secs_f64() / a.as_secs_f64() >= 3.0
    );
    c.final_summary();
}
