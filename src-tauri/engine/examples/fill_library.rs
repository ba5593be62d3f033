//! `cargo run -p easel-engine --example fill_library -- DATA_DIR LIBRARY_DIR JOBS [THUMBNAILS]`
//!
//! A large library for the app benchmark (tests/desktop/bench.mjs): the
//! schema from opening an engine, then JOBS jobs written straight into it
//! (the same mix as the query bench), each completed one showing one of
//! THUMBNAILS real 384-pixel thumbnails (default 2,000) in the thumbnail
//! cache, so the gallery decodes real images while it scrolls.

#[path = "../benches/support/library.rs"]
mod library;

use easel_engine::{Config, Engine};
use image::{Rgb, RgbImage};
use library::{gallery_shape, Rng};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, lib, jobs, rest @ ..] = args.as_slice() else {
        return Err("usage: fill_library DATA_DIR LIBRARY_DIR JOBS [THUMBNAILS]".into());
    };
    let jobs: u64 = jobs.parse()?;
    let thumbs: u64 = rest.first().map_or(Ok(2_000), |s| s.parse())?.max(1);
    let config = Config::new(PathBuf::from(data), Some(PathBuf::from(lib)));
    drop(Engine::open(config.clone())?);

    let t = Instant::now();
    // In the cache folder itself: the app shows only its direct children.
    let dir = config.thumbs_dir();
    std::fs::create_dir_all(&dir)?;
    for i in 0..thumbs {
        // A different gradient each, so no two decode to the same image.
        let (r, g) = ((i * 37 % 256) as u8, (i * 91 % 256) as u8);
        let img = RgbImage::from_fn(384, 384, |x, y| {
            Rgb([r ^ (x as u8), g ^ (y as u8), (x + y) as u8])
        });
        img.save(dir.join(format!("bench-{i}.png")))?;
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut rng = Rng::new(7);
    library::fill(&config.db_path(), jobs, now, 90_000, |_| {
        gallery_shape(&mut rng)
    })?;
    let conn = rusqlite::Connection::open(config.db_path())?;
    conn.execute(
        "UPDATE jobs SET thumb_path = ?1 || '/bench-' || (rowid % ?2) || '.png' WHERE thumb_path IS NOT NULL",
        rusqlite::params![dir.to_string_lossy(), thumbs as i64],
    )?;
    println!(
        "{jobs} jobs and {thumbs} thumbnails in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
