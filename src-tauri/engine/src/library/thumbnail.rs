//! Small PNG previews for the gallery.

use std::borrow::Cow;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::{CompressionType, PngEncoder};
use image::{DynamicImage, ExtendedColorType, ImageEncoder};

#[derive(Debug, thiserror::Error)]
pub enum ThumbnailError {
    #[error("cannot make a thumbnail of an empty ({width}x{height}) image")]
    Empty { width: u32, height: u32 },
    #[error("thumbnail size must be at least 1 pixel")]
    ZeroSize,
    #[error("resizing failed: {0}")]
    Resize(String),
    #[error("encoding the thumbnail failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// Scales `img` to fit in a `max_side` square (aspect ratio kept, never
/// enlarged) with Lanczos3 and encodes it as PNG (fast deflate): RGB for opaque sources,
/// RGBA (resampled with premultiplied alpha, so no dark fringes) otherwise.
pub fn thumbnail_png(img: &DynamicImage, max_side: u32) -> Result<Vec<u8>, ThumbnailError> {
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 {
        return Err(ThumbnailError::Empty { width, height });
    }
    if max_side == 0 {
        return Err(ThumbnailError::ZeroSize);
    }
    let (tw, th) = fit(width, height, max_side);
    let alpha = img.color().has_alpha();
    let (pixels, pixel_type, color): (Cow<'_, [u8]>, _, _) = match (img, alpha) {
        (DynamicImage::ImageRgb8(buf), false) => (
            Cow::Borrowed(buf.as_raw()),
            PixelType::U8x3,
            ExtendedColorType::Rgb8,
        ),
        (DynamicImage::ImageRgba8(buf), true) => (
            Cow::Borrowed(buf.as_raw()),
            PixelType::U8x4,
            ExtendedColorType::Rgba8,
        ),
        (_, false) => (
            Cow::Owned(img.to_rgb8().into_raw()),
            PixelType::U8x3,
            ExtendedColorType::Rgb8,
        ),
        (_, true) => (
            Cow::Owned(img.to_rgba8().into_raw()),
            PixelType::U8x4,
            ExtendedColorType::Rgba8,
        ),
    };
    let resized;
    let out_pixels: &[u8] = if (tw, th) == (width, height) {
        &pixels
    } else {
        let src = ImageRef::new(width, height, &pixels, pixel_type)
            .map_err(|e| ThumbnailError::Resize(e.to_string()))?;
        let mut dst = Image::new(tw, th, pixel_type);
        // Lanczos3 from a box-filtered 2× intermediate: about half the
        // resize time of full Lanczos3 on a 2048² output, ~50 dB PSNR
        // from it (`benches/thumbnail.rs`).
        let options =
            ResizeOptions::new().resize_alg(ResizeAlg::SuperSampling(FilterType::Lanczos3, 2));
        Resizer::new()
            .resize(&src, &mut dst, &options)
            .map_err(|e| ThumbnailError::Resize(e.to_string()))?;
        resized = dst.into_vec();
        &resized
    };
    let mut png = Vec::new();
    // A thumbnail is a cache: the fast deflate level costs a few percent
    // in size and saves most of the encode (`benches/thumbnail.rs`).
    PngEncoder::new_with_quality(
        &mut png,
        CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(out_pixels, tw, th, color)?;
    Ok(png)
}

/// Target size: the long side becomes `max_side` (if it is larger), the short
/// side is scaled to match, rounded, and at least 1.
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_side {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        // scaled <= max_side because side <= long, so it fits in u32.
        (scaled as u32).max(1)
    };
    (scale(width), scale(height))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> DynamicImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap()
    }

    fn rgb(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        }))
    }

    #[test]
    fn landscape() {
        let t = decode(&thumbnail_png(&rgb(1600, 900), 256).unwrap());
        assert_eq!((t.width(), t.height()), (256, 144));
        assert!(!t.color().has_alpha());
    }

    #[test]
    fn portrait() {
        let t = decode(&thumbnail_png(&rgb(600, 1000), 256).unwrap());
        assert_eq!((t.width(), t.height()), (154, 256));
    }

    #[test]
    fn small_is_not_upscaled() {
        let t = decode(&thumbnail_png(&rgb(100, 40), 256).unwrap());
        assert_eq!((t.width(), t.height()), (100, 40));
        let t = decode(&thumbnail_png(&rgb(256, 256), 256).unwrap());
        assert_eq!((t.width(), t.height()), (256, 256));
    }

    #[test]
    fn extreme_aspect_keeps_one_pixel() {
        let t = decode(&thumbnail_png(&rgb(4000, 3), 100).unwrap());
        assert_eq!((t.width(), t.height()), (100, 1));
    }

    #[test]
    fn alpha_and_other_colour_types() {
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            300,
            200,
            image::Rgba([255, 0, 0, 128]),
        ));
        let t = decode(&thumbnail_png(&rgba, 150).unwrap());
        assert_eq!((t.width(), t.height()), (150, 100));
        assert!(t.color().has_alpha());
        // Premultiplied resampling keeps a flat colour flat.
        assert_eq!(t.to_rgba8().get_pixel(75, 50).0, [255, 0, 0, 128]);

        let gray16 = DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(
            90,
            300,
            image::Luma([40_000u16]),
        ));
        let t = decode(&thumbnail_png(&gray16, 60).unwrap());
        assert_eq!((t.width(), t.height()), (18, 60));
    }

    #[test]
    fn degenerate_inputs() {
        assert!(matches!(
            thumbnail_png(&rgb(10, 10), 0),
            Err(ThumbnailError::ZeroSize)
        ));
        let empty = DynamicImage::ImageRgb8(image::RgbImage::new(0, 5));
        assert!(matches!(
            thumbnail_png(&empty, 10),
            Err(ThumbnailError::Empty { .. })
        ));
    }
}
