//! Checks that bytes from a provider are a real, bounded image before we
//! store them: untrusted input must not exhaust memory or land as garbage.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// Upper bounds for images we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_bytes: u64,
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_bytes: 64 * 1024 * 1024,
            max_pixels: 100_000_000,
        }
    }
}

/// A fully decoded image and what it was.
#[derive(Debug, Clone)]
pub struct Validated {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub image: DynamicImage,
}

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("image is {bytes} bytes, more than the limit of {max}")]
    TooManyBytes { bytes: u64, max: u64 },
    #[error("image is {width}x{height} pixels, more than the limit of {max} pixels")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("data is not in a recognised image format")]
    UnknownFormat,
    #[error("{0:?} images are not supported (PNG, JPEG and WebP are)")]
    Unsupported(ImageFormat),
    #[error("image could not be decoded: {0}")]
    Decode(String),
}

/// Formats the engine is built to decode.
const SUPPORTED: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP];

/// Slack on top of the output buffer for decoders' own working memory.
const DECODER_SLACK: u64 = 16 * 1024 * 1024;

/// Validates and decodes `bytes`, cheapest checks first: size, then format
/// sniffing, then the declared dimensions (read from the header, before any
/// pixel buffer exists), and only then a full decode under allocation limits.
/// A truncated or corrupt file fails the decode.
pub fn validate(bytes: &[u8], limits: &ImageLimits) -> Result<Validated, ValidateError> {
    let len = bytes.len() as u64;
    if len > limits.max_bytes {
        return Err(ValidateError::TooManyBytes {
            bytes: len,
            max: limits.max_bytes,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ValidateError::Decode(e.to_string()))?;
    let format = reader.format().ok_or(ValidateError::UnknownFormat)?;
    if !SUPPORTED.contains(&format) {
        return Err(ValidateError::Unsupported(format));
    }
    // While headers are read, allow at most what the largest acceptable
    // image could need (16-bit RGBA is 8 bytes per pixel).
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(
        limits
            .max_pixels
            .saturating_mul(8)
            .saturating_add(DECODER_SLACK),
    );
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;

    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ValidateError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    // Now that the size is known, cap decoding at what this image needs.
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    decode_limits.max_alloc = Some(
        decoder
            .total_bytes()
            .saturating_mul(2)
            .saturating_add(DECODER_SLACK),
    );
    decoder.set_limits(decode_limits).map_err(decode_error)?;
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder pads a cut-off file with grey instead of failing.
        return Err(ValidateError::Decode(
            "JPEG data is truncated (no end-of-image marker)".into(),
        ));
    }
    Ok(Validated {
        format,
        width,
        height,
        image,
    })
}

fn decode_error(e: image::ImageError) -> ValidateError {
    ValidateError::Decode(e.to_string())
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan
/// (FF DA). Neither byte pair can occur inside entropy-coded data (0xFF is
/// stuffed there), an EXIF thumbnail's EOI comes before the main scan, and
/// appended trailers or multi-picture images still end with their own EOI.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last_scan = bytes
        .windows(2)
        .rposition(|w| w == [0xff, 0xda])
        .unwrap_or(0);
    bytes[last_scan..].windows(2).any(|w| w == [0xff, 0xd9])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        }))
    }

    #[test]
    fn accepts_png_jpeg_webp() {
        let img = gradient(40, 30);
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let v = validate(&encode(&img, format), &ImageLimits::default()).unwrap();
            assert_eq!((v.format, v.width, v.height), (format, 40, 30));
            assert_eq!((v.image.width(), v.image.height()), (40, 30));
        }
    }

    #[test]
    fn too_many_bytes_checked_first() {
        let limits = ImageLimits {
            max_bytes: 10,
            max_pixels: 1,
        };
        let err = validate(&[0u8; 11], &limits).unwrap_err();
        assert!(
            matches!(err, ValidateError::TooManyBytes { bytes: 11, max: 10 }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "image is 11 bytes, more than the limit of 10"
        );
    }

    #[test]
    fn too_many_pixels_rejected_before_decoding() {
        let png = encode(&gradient(100, 50), ImageFormat::Png);
        let limits = ImageLimits {
            max_pixels: 4999,
            ..ImageLimits::default()
        };
        let err = validate(&png, &limits).unwrap_err();
        assert!(matches!(
            err,
            ValidateError::TooManyPixels {
                width: 100,
                height: 50,
                max: 4999
            }
        ));
        // A PNG claiming 100k x 100k pixels (40 GB decoded) over a tiny
        // body is refused on its header, before any pixel buffer exists.
        let mut huge = png.clone();
        huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
        let crc = crc32fast::hash(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = validate(&huge, &ImageLimits::default()).unwrap_err();
        assert!(
            matches!(err, ValidateError::TooManyPixels { width: 100_000, .. }),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_unsupported_formats() {
        let err = validate(
            b"hello, this is not an image at all",
            &ImageLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ValidateError::UnknownFormat), "{err}");
        assert!(matches!(
            validate(&[], &ImageLimits::default()),
            Err(ValidateError::UnknownFormat)
        ));
        let err = validate(
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
            &ImageLimits::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, ValidateError::Unsupported(ImageFormat::Gif)),
            "{err}"
        );
    }

    #[test]
    fn truncated_files_fail() {
        let img = gradient(64, 64);
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let bytes = encode(&img, format);
            for keep in [bytes.len() / 3, bytes.len() * 2 / 3, bytes.len() - 16] {
                let err = validate(&bytes[..keep], &ImageLimits::default());
                assert!(
                    matches!(err, Err(ValidateError::Decode(_))),
                    "{format:?} cut to {keep}/{}: {err:?}",
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn garbage_after_signature_fails() {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0xab; 100]);
        assert!(matches!(
            validate(&bytes, &ImageLimits::default()),
            Err(ValidateError::Decode(_))
        ));
    }
}
