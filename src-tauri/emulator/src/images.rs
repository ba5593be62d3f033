//! Images the fake providers return: a gradient of the requested size whose
//! colours follow the prompt, so outputs differ per request.

use image::{ImageFormat, Rgb, RgbImage};
use std::io::Cursor;

/// Encode a `width`×`height` picture for `prompt` and `index` as PNG or JPEG.
pub fn picture(prompt: &str, index: u32, width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let seed = prompt.bytes().fold(index * 97 + 13, |h, b| {
        h.wrapping_mul(31).wrapping_add(u32::from(b))
    });
    let (r, g) = ((seed & 0xff) as u8, ((seed >> 8) & 0xff) as u8);
    let img = RgbImage::from_fn(width.max(1), height.max(1), |x, y| {
        let b = ((x + y) * 255 / (width + height).max(1)) as u8;
        Rgb([r ^ (x as u8), g ^ (y as u8), b])
    });
    let mut out = Cursor::new(Vec::new());
    // Encoding an in-memory RGB image cannot fail for PNG or JPEG.
    let _ = img.write_to(&mut out, format);
    out.into_inner()
}

pub const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>"#;
