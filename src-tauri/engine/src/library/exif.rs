//! Generation metadata in JPEG and WebP files: the A1111 "parameters" text
//! as the EXIF UserComment (where AUTOMATIC1111 and image browsers read
//! it), written into the container by `img-parts` without touching the
//! encoded pixels.
//!
//! The EXIF block is the smallest that carries it: a big-endian TIFF header,
//! IFD0 with one pointer to the Exif IFD, and the Exif IFD with one
//! UserComment entry ("UNICODE\0" then UTF-16BE, as piexif writes it).

use img_parts::{jpeg::Jpeg, webp::WebP, Bytes, ImageEXIF};

const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_USER_COMMENT: u16 = 0x9286;
const TYPE_LONG: u16 = 4;
const TYPE_UNDEFINED: u16 = 7;
const UNICODE: &[u8; 8] = b"UNICODE\0";
/// The TIFF header, IFD0 (one entry) and the Exif IFD (one entry).
const HEADER_LEN: usize = 8 + (2 + 12 + 4) + (2 + 12 + 4);
/// One JPEG APP1 segment holds this much EXIF (after "Exif\0\0").
const JPEG_MAX_EXIF: usize = 65_535 - 2 - 6;

#[derive(Debug, thiserror::Error)]
pub enum ExifError {
    #[error("not a readable {0} container: {1}")]
    Container(&'static str, String),
}

/// An EXIF block whose UserComment is `text`, truncated (at a character)
/// to fit in `max_len` bytes.
pub fn user_comment(text: &str, max_len: usize) -> Vec<u8> {
    let room = max_len.saturating_sub(HEADER_LEN + UNICODE.len()) / 2;
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    for c in text.chars() {
        let mut buf = [0u16; 2];
        let encoded = c.encode_utf16(&mut buf);
        if units.len() + encoded.len() > room {
            tracing::warn!(
                chars = text.chars().count(),
                "metadata text cut to fit in EXIF"
            );
            break;
        }
        units.extend_from_slice(encoded);
    }
    let comment_len = UNICODE.len() + units.len() * 2;
    let mut out = Vec::with_capacity(HEADER_LEN + comment_len);
    out.extend_from_slice(b"MM\0\x2a");
    out.extend_from_slice(&8u32.to_be_bytes());
    // IFD0: the pointer to the Exif IFD, which follows it.
    let exif_ifd = 8 + 2 + 12 + 4;
    entry(&mut out, TAG_EXIF_IFD, TYPE_LONG, 1, exif_ifd as u32);
    // The Exif IFD: the comment, stored after it.
    let data = exif_ifd + 2 + 12 + 4;
    entry(
        &mut out,
        TAG_USER_COMMENT,
        TYPE_UNDEFINED,
        comment_len as u32,
        data as u32,
    );
    out.extend_from_slice(UNICODE);
    for unit in units {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

/// One IFD holding one entry, then "no next IFD".
fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&value.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
}

/// The UserComment of an EXIF block written by `user_comment`.
pub fn read_user_comment(exif: &[u8]) -> Option<String> {
    let be = |at: usize, n: usize| -> Option<u32> {
        let bytes = exif.get(at..at + n)?;
        Some(bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
    };
    if exif.get(..4)? != b"MM\0\x2a" {
        return None;
    }
    let ifd0 = be(4, 4)? as usize;
    let exif_ifd = be(ifd0 + 2 + 8, 4)? as usize;
    let tag = be(exif_ifd + 2, 2)? as u16;
    if tag != TAG_USER_COMMENT {
        return None;
    }
    let count = be(exif_ifd + 2 + 4, 4)? as usize;
    let at = be(exif_ifd + 2 + 8, 4)? as usize;
    let comment = exif.get(at..at + count)?;
    let text = comment.strip_prefix(&UNICODE[..])?;
    let units: Vec<u16> = text
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// `jpeg` with `text` as its EXIF UserComment (any EXIF it had replaced).
pub fn embed_in_jpeg(jpeg: &[u8], text: &str) -> Result<Vec<u8>, ExifError> {
    let mut image = Jpeg::from_bytes(Bytes::copy_from_slice(jpeg))
        .map_err(|e| ExifError::Container("JPEG", e.to_string()))?;
    image.set_exif(Some(Bytes::from(user_comment(text, JPEG_MAX_EXIF))));
    Ok(image.encoder().bytes().to_vec())
}

/// `webp` with `text` as its EXIF UserComment (any EXIF it had replaced).
pub fn embed_in_webp(webp: &[u8], text: &str) -> Result<Vec<u8>, ExifError> {
    let mut image = WebP::from_bytes(Bytes::copy_from_slice(webp))
        .map_err(|e| ExifError::Container("WebP", e.to_string()))?;
    image.set_exif(Some(Bytes::from(user_comment(text, usize::MAX / 4))));
    Ok(image.encoder().bytes().to_vec())
}

/// The UserComment a JPEG or WebP file carries, if any.
pub fn read_comment(bytes: &[u8]) -> Option<String> {
    let exif = match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Jpeg::from_bytes(Bytes::copy_from_slice(bytes))
            .ok()?
            .exif()?,
        image::ImageFormat::WebP => WebP::from_bytes(Bytes::copy_from_slice(bytes))
            .ok()?
            .exif()?,
        _ => return None,
    };
    read_user_comment(&exif)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use std::io::Cursor;

    fn encoded(format: image::ImageFormat) -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn the_comment_round_trips_through_jpeg_and_webp_and_the_pixels_stay() {
        let text = "a café at dusk, 夕暮れ 🌆\nSeed: 7, Size: 40x30";
        for (format, embed) in [
            (
                image::ImageFormat::Jpeg,
                embed_in_jpeg as fn(&[u8], &str) -> _,
            ),
            (image::ImageFormat::WebP, embed_in_webp),
        ] {
            let original = encoded(format);
            let with = embed(&original, text).unwrap();
            assert_eq!(image::guess_format(&with).unwrap(), format);
            assert_eq!(read_comment(&with).as_deref(), Some(text), "{format:?}");
            let (a, b) = (
                image::load_from_memory(&original).unwrap().to_rgb8(),
                image::load_from_memory(&with).unwrap().to_rgb8(),
            );
            assert_eq!(a, b, "{format:?}: the pixels are not re-encoded");
            // Embedding again replaces the comment instead of adding one.
            let again = embed(&with, "second").unwrap();
            assert_eq!(read_comment(&again).as_deref(), Some("second"));
        }
    }

    #[test]
    fn a_comment_too_long_for_one_jpeg_segment_is_cut_at_a_character() {
        let long = "é".repeat(40_000);
        let exif = user_comment(&long, JPEG_MAX_EXIF);
        assert!(exif.len() <= JPEG_MAX_EXIF);
        let back = read_user_comment(&exif).unwrap();
        assert!(back.chars().all(|c| c == 'é') && back.chars().count() < 40_000);
        let with = embed_in_jpeg(&encoded(image::ImageFormat::Jpeg), &long).unwrap();
        assert!(read_comment(&with).is_some(), "still stored, cut");
    }
}
