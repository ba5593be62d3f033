//! `cargo bench -p easel-engine --bench save`
//!
//! Save throughput: 2048×2048 PNG outputs through `Library::save` (decode
//! and validate under limits, embed the prompt, SHA-256, atomic write with
//! fsync of file and folder, thumbnail written the same way) against the
//! same work done plainly with the same crates: decode with
//! `image::load_from_memory`, hash with `sha2`, `fs::write` + `sync_all`
//! of the image and of the same thumbnail. With 1, 2 and 8 saves in
//! flight (threads), in images per second; the target is ≥ 0.8 of the
//! plain rate.

#[path = "support/images.rs"]
mod images;

use criterion::Criterion;
use easel_engine::library::thumbnail::thumbnail_png;
use easel_engine::library::validate::ImageLimits;
use easel_engine::library::Library;
use images::{offline_png, params};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SIDE: u32 = 2048;
/// Images per measured round, split across the threads.
const ROUND: u64 = 24;

fn ours(lib: &Library, png: &[u8], n: u64) {
    lib.save(png, &params(format!("job-{n:08}"), n, SIDE), 1)
        .expect("save");
}

fn plain(dir: &Path, png: &[u8], n: u64) {
    let img = image::load_from_memory(png).expect("decode");
    let _sha = Sha256::digest(png);
    write_synced(&dir.join(format!("{n}.png")), png);
    let thumb = thumbnail_png(&img, 384).expect("thumbnail");
    write_synced(&dir.join(format!("{n}.thumb.png")), &thumb);
}

fn write_synced(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(bytes).expect("write");
    f.sync_all().expect("fsync");
}

/// Images per second with `threads` saves in flight.
fn rate(threads: u64, save: &(dyn Fn(u64) + Sync)) -> f64 {
    let next = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= ROUND {
                    break;
                }
                save(n);
            });
        }
    });
    ROUND as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let lib = Library::new(
        dir.path().join("library"),
        dir.path().join("thumbs"),
        ImageLimits::default(),
    );
    std::fs::create_dir_all(lib.root()).expect("library");
    let plain_dir = dir.path().join("plain");
    std::fs::create_dir_all(&plain_dir).expect("plain");
    let png = offline_png(7, SIDE);
    println!("source: {SIDE}×{SIDE} PNG, {} KiB", png.len() / 1024);
    let counter = AtomicU64::new(1_000_000);
    let n = || counter.fetch_add(1, Ordering::Relaxed);

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    c.bench_function("save 2048² PNG (Library::save)", |b| {
        b.iter(|| ours(&lib, &png, n()))
    });
    c.bench_function("save 2048² PNG plainly (same crates)", |b| {
        b.iter(|| plain(&plain_dir, &png, n()))
    });

    println!();
    println!("== summary (images/s, best of 3 rounds of {ROUND}) ==");
    for threads in [1u64, 2, 8] {
        // Alternate the two so drift hits both alike; keep each side's best.
        let (mut o, mut p) = (0f64, 0f64);
        for _ in 0..3 {
            o = o.max(rate(threads, &|_| ours(&lib, &png, n())));
            p = p.max(rate(threads, &|_| plain(&plain_dir, &png, n())));
        }
        let ratio = o / p;
        println!("{threads} in flight: Easel {o:>6.1}/s   plain {p:>6.1}/s   ratio {ratio:.2}");
        println!(
            "BENCH|save throughput, 2048² PNG, {threads} in flight (images/s)|{o:.1}/s|{p:.1}/s|{ratio:.2}|≥ 0.8|{}",
            ratio >= 0.8
        );
    }
    c.final_summary();
}
