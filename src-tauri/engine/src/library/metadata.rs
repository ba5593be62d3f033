//! Generation metadata embedded in saved PNGs.
//!
//! Two text chunks go right after `IHDR`: `parameters` in the AUTOMATIC1111
//! format that other tools (web UIs, image browsers) already understand, and
//! `easel` holding our own [`GenerationParams`] as JSON. Chunks are spliced
//! into the original byte stream, so pixels are never re-encoded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Keyword of the AUTOMATIC1111-style text chunk.
pub const PARAMETERS_KEYWORD: &str = "parameters";
/// Keyword of the chunk holding [`GenerationParams`] as JSON.
pub const EASEL_KEYWORD: &str = "easel";

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// PNG caps chunk lengths at 2^31 - 1.
const MAX_CHUNK_LEN: usize = 0x7fff_ffff;

/// Everything needed to reproduce or trace one output image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    pub job_id: String,
    pub output_index: u32,
    pub prompt: String,
    pub negative_prompt: Option<String>,
    /// The seed that made this output, where known: a provider that
    /// chooses or ignores seeds (OpenAI) has none to record.
    pub seed: Option<u64>,
    /// The prompt as the provider rewrote it before generating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// The image's real size (an aspect-ratio model may differ from the
    /// request).
    pub width: u32,
    pub height: u32,
    pub provider: String,
    pub model: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("not a PNG file (bad signature)")]
    NotPng,
    #[error("PNG is truncated")]
    Truncated,
    #[error("PNG is corrupt: {0}")]
    Corrupt(String),
    #[error("PNG chunk {0} fails its CRC check")]
    BadCrc(String),
    #[error("PNG header (IHDR) is invalid: {0}")]
    BadHeader(&'static str),
    #[error("PNG ends without an IEND chunk")]
    MissingEnd,
    #[error("invalid PNG text keyword {keyword:?}: {reason}")]
    BadKeyword {
        keyword: String,
        reason: &'static str,
    },
    #[error("text for PNG keyword {0:?} contains a NUL character")]
    NulInText(String),
    #[error("text for PNG keyword {0:?} is too large for one chunk")]
    TooLarge(String),
    #[error("could not serialise generation parameters: {0}")]
    Json(#[from] serde_json::Error),
}

/// Inserts one text chunk per `(keyword, text)` right after `IHDR`.
///
/// ASCII text (printable plus newline) becomes `tEXt`; anything else an
/// uncompressed, UTF-8 `iTXt`. Existing text chunks with the same keywords
/// are dropped so embedding twice does not pile up stale copies, and bytes
/// after `IEND` are dropped. The input must be a structurally valid PNG:
/// signature, a sane `IHDR` first, correct CRCs and an `IEND`.
pub fn embed_png_text(png: &[u8], chunks: &[(&str, &str)]) -> Result<Vec<u8>, MetadataError> {
    let parsed = parse(png)?;
    let mut new_chunks = Vec::with_capacity(chunks.len());
    for (keyword, text) in chunks {
        new_chunks.push(text_chunk(keyword, text)?);
    }
    let extra: usize = new_chunks.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(png.len() + extra);
    out.extend_from_slice(&SIGNATURE);
    let mut rest = parsed.iter();
    // parse() guarantees IHDR comes first.
    if let Some(ihdr) = rest.next() {
        out.extend_from_slice(&png[ihdr.start..ihdr.end]);
    }
    for chunk in &new_chunks {
        out.extend_from_slice(chunk);
    }
    for chunk in rest {
        let replaced = text_keyword(png, chunk)
            .is_some_and(|k| chunks.iter().any(|(key, _)| key.as_bytes() == k));
        if !replaced {
            out.extend_from_slice(&png[chunk.start..chunk.end]);
        }
    }
    Ok(out)
}

/// Reads every `tEXt` and uncompressed `iTXt` chunk as `(keyword, text)`, in
/// file order. Compressed (`zTXt`, compressed `iTXt`) and malformed text
/// chunks are skipped; a structurally broken PNG is an error.
pub fn read_png_text(png: &[u8]) -> Result<Vec<(String, String)>, MetadataError> {
    let mut out = Vec::new();
    for chunk in parse(png)? {
        let data = &png[chunk.data.0..chunk.data.1];
        match &chunk.kind {
            b"tEXt" => {
                if let Some((key, text)) = split_nul(data) {
                    out.push((latin1(key), latin1(text)));
                }
            }
            b"iTXt" => {
                if let Some(pair) = parse_itxt(data) {
                    out.push(pair);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The AUTOMATIC1111 "parameters" text: prompt, optional negative prompt,
/// then one `Key: value, ` line (values with `,` `:` or newlines are quoted,
/// as A1111 does, so parsers can split the line). NUL characters, which PNG
/// text cannot carry, are dropped.
pub fn a1111_parameters(p: &GenerationParams) -> String {
    let mut s = p.prompt.clone();
    if let Some(neg) = p
        .negative_prompt
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        s.push_str("\nNegative prompt: ");
        s.push_str(neg);
    }
    s.push('\n');
    if let Some(seed) = p.seed {
        s.push_str(&format!("Seed: {seed}, "));
    }
    s.push_str(&format!(
        "Size: {}x{}, Model: {}, Provider: {}, Easel job: {}",
        p.width,
        p.height,
        quote(&p.model),
        quote(&p.provider),
        quote(&p.job_id)
    ));
    if let Some(revised) = p.revised_prompt.as_deref().filter(|r| !r.trim().is_empty()) {
        s.push_str(&format!(", Revised prompt: {}", quote(revised)));
    }
    // PNG text cannot hold NUL; a stray one must not make the save fail.
    s.retain(|c| c != '\0');
    s
}

/// Embeds both the `parameters` and the `easel` JSON chunks.
pub fn embed_generation_params(png: &[u8], p: &GenerationParams) -> Result<Vec<u8>, MetadataError> {
    let json = serde_json::to_string(p)?;
    let params = a1111_parameters(p);
    embed_png_text(
        png,
        &[(PARAMETERS_KEYWORD, &params), (EASEL_KEYWORD, &json)],
    )
}

/// Reads back our `easel` chunk, if present and parseable.
pub fn read_generation_params(png: &[u8]) -> Result<Option<GenerationParams>, MetadataError> {
    Ok(read_png_text(png)?
        .into_iter()
        .find(|(k, _)| k == EASEL_KEYWORD)
        .and_then(|(_, json)| serde_json::from_str(&json).ok()))
}

/// A1111's quoting: JSON-style quotes only when the value would break the
/// `Key: value, ` line.
fn quote(value: &str) -> String {
    if !value.contains([',', ':', '\n', '\r', '"']) {
        return value.to_string();
    }
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if u32::from(c) < 0x20 => s.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

// ---------------------------------------------------------------------------
// Chunk building

fn text_chunk(keyword: &str, text: &str) -> Result<Vec<u8>, MetadataError> {
    check_keyword(keyword)?;
    if text.contains('\0') {
        return Err(MetadataError::NulInText(keyword.to_string()));
    }
    // tEXt is Latin-1; restricting it to printable ASCII + newline keeps
    // both readers that assume Latin-1 and those that assume UTF-8 right.
    let plain = text
        .bytes()
        .all(|b| b == b'\n' || (0x20..=0x7e).contains(&b));
    let mut data = Vec::with_capacity(keyword.len() + text.len() + 5);
    data.extend_from_slice(keyword.as_bytes());
    data.push(0);
    let kind = if plain {
        b"tEXt"
    } else {
        // Compression flag 0, method 0, empty language tag and translated
        // keyword, then UTF-8 text.
        data.extend_from_slice(&[0, 0, 0, 0]);
        b"iTXt"
    };
    data.extend_from_slice(text.as_bytes());
    if data.len() > MAX_CHUNK_LEN {
        return Err(MetadataError::TooLarge(keyword.to_string()));
    }
    Ok(chunk_bytes(kind, &data))
}

/// PNG keywords: 1-79 printable Latin-1 characters, no leading, trailing or
/// doubled spaces. We accept the ASCII subset so `&str` maps 1:1 to bytes.
fn check_keyword(keyword: &str) -> Result<(), MetadataError> {
    let bad = |reason| MetadataError::BadKeyword {
        keyword: keyword.to_string(),
        reason,
    };
    if keyword.is_empty() || keyword.len() > 79 {
        return Err(bad("must be 1 to 79 characters"));
    }
    if !keyword.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(bad("must be printable ASCII"));
    }
    if keyword.starts_with(' ') || keyword.ends_with(' ') || keyword.contains("  ") {
        return Err(bad("no leading, trailing or double spaces"));
    }
    Ok(())
}

fn chunk_bytes(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    // Callers cap data at MAX_CHUNK_LEN, so the length fits in u32.
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

// ---------------------------------------------------------------------------
// Parsing

/// One chunk's location: `start..end` spans length, type, data and CRC.
struct Chunk {
    kind: [u8; 4],
    start: usize,
    end: usize,
    data: (usize, usize),
}

/// Splits a PNG into chunks, validating signature, IHDR, lengths and CRCs,
/// up to and including IEND.
fn parse(png: &[u8]) -> Result<Vec<Chunk>, MetadataError> {
    if png.len() < SIGNATURE.len() || png[..8] != SIGNATURE {
        return Err(MetadataError::NotPng);
    }
    let mut chunks = Vec::new();
    let mut pos = SIGNATURE.len();
    loop {
        let header = png.get(pos..pos + 8).ok_or(MetadataError::Truncated)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = [header[4], header[5], header[6], header[7]];
        if len > MAX_CHUNK_LEN {
            return Err(MetadataError::Corrupt(format!(
                "chunk length {len} out of range"
            )));
        }
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(MetadataError::Corrupt(format!(
                "bad chunk type {kind:02x?}"
            )));
        }
        let data_start = pos + 8;
        let data_end = data_start + len;
        let end = data_end + 4;
        let crc_bytes = png.get(data_end..end).ok_or(MetadataError::Truncated)?;
        let stored = u32::from_be_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&png[pos + 4..data_end]);
        if crc.finalize() != stored {
            return Err(MetadataError::BadCrc(
                String::from_utf8_lossy(&kind).into_owned(),
            ));
        }
        if chunks.is_empty() {
            if &kind != b"IHDR" {
                return Err(MetadataError::BadHeader("IHDR is not the first chunk"));
            }
            check_ihdr(&png[data_start..data_end])?;
        } else if &kind == b"IHDR" {
            return Err(MetadataError::BadHeader("more than one IHDR"));
        }
        chunks.push(Chunk {
            kind,
            start: pos,
            end,
            data: (data_start, data_end),
        });
        if &kind == b"IEND" {
            return Ok(chunks);
        }
        pos = end;
        if pos == png.len() {
            return Err(MetadataError::MissingEnd);
        }
    }
}

fn check_ihdr(d: &[u8]) -> Result<(), MetadataError> {
    if d.len() != 13 {
        return Err(MetadataError::BadHeader("IHDR must be 13 bytes"));
    }
    let width = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let height = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
    if width == 0 || height == 0 || width > MAX_CHUNK_LEN as u32 || height > MAX_CHUNK_LEN as u32 {
        return Err(MetadataError::BadHeader("width and height must be 1..2^31"));
    }
    let (depth, color) = (d[8], d[9]);
    let depth_ok = match color {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => return Err(MetadataError::BadHeader("unknown colour type")),
    };
    if !depth_ok {
        return Err(MetadataError::BadHeader(
            "bit depth not allowed for colour type",
        ));
    }
    if d[10] != 0 || d[11] != 0 || d[12] > 1 {
        return Err(MetadataError::BadHeader(
            "unknown compression, filter or interlace method",
        ));
    }
    Ok(())
}

/// The keyword of a text chunk (`tEXt`, `zTXt`, `iTXt`), if it is one.
fn text_keyword<'a>(png: &'a [u8], chunk: &Chunk) -> Option<&'a [u8]> {
    if !matches!(&chunk.kind, b"tEXt" | b"zTXt" | b"iTXt") {
        return None;
    }
    split_nul(&png[chunk.data.0..chunk.data.1]).map(|(keyword, _)| keyword)
}

fn split_nul(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = data.iter().position(|&b| b == 0)?;
    Some((&data[..i], &data[i + 1..]))
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `(keyword, text)` of an uncompressed iTXt chunk.
fn parse_itxt(data: &[u8]) -> Option<(String, String)> {
    let (keyword, rest) = split_nul(data)?;
    let (&flag, rest) = rest.split_first()?;
    let (_method, rest) = rest.split_first()?;
    if flag != 0 {
        return None;
    }
    let (_language, rest) = split_nul(rest)?;
    let (_translated, text) = split_nul(rest)?;
    Some((latin1(keyword), String::from_utf8_lossy(text).into_owned()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample_png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn params(prompt: &str) -> GenerationParams {
        GenerationParams {
            job_id: "01J0ABCDEF".into(),
            output_index: 2,
            prompt: prompt.into(),
            negative_prompt: Some("blurry, low quality".into()),
            seed: Some(12345),
            revised_prompt: None,
            width: 8,
            height: 6,
            provider: "offline".into(),
            model: "landscape-v1".into(),
            created_at: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
        }
    }

    fn chunk_types(png: &[u8]) -> Vec<String> {
        parse(png)
            .unwrap()
            .iter()
            .map(|c| String::from_utf8_lossy(&c.kind).into_owned())
            .collect()
    }

    #[test]
    fn round_trip_ascii_uses_text() {
        let png = sample_png(8, 6);
        let out =
            embed_png_text(&png, &[("parameters", "a cat\nSeed: 1"), ("Comment", "hi")]).unwrap();
        let types = chunk_types(&out);
        assert_eq!(&types[..3], ["IHDR", "tEXt", "tEXt"]);
        assert_eq!(
            read_png_text(&out).unwrap(),
            vec![
                ("parameters".to_string(), "a cat\nSeed: 1".to_string()),
                ("Comment".to_string(), "hi".to_string())
            ]
        );
        // Pixels are untouched: the IDAT bytes are copied verbatim.
        let a = image::load_from_memory(&png).unwrap();
        let b = image::load_from_memory(&out).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn unicode_goes_to_itxt() {
        let png = sample_png(4, 4);
        let text = "чайка над морем 🌊, «sunset»";
        let out = embed_png_text(&png, &[("parameters", text)]).unwrap();
        assert_eq!(chunk_types(&out)[1], "iTXt");
        assert_eq!(
            read_png_text(&out).unwrap(),
            vec![("parameters".to_string(), text.to_string())]
        );
        image::load_from_memory(&out).unwrap();
        // Control characters other than newline also avoid tEXt.
        let out = embed_png_text(&png, &[("k", "tab\there")]).unwrap();
        assert_eq!(chunk_types(&out)[1], "iTXt");
    }

    #[test]
    fn png_crate_reads_our_chunks() {
        let png = sample_png(4, 4);
        let out = embed_png_text(&png, &[("parameters", "plain"), ("easel", "ünïcode")]).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&out));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.uncompressed_latin1_text[0].keyword, "parameters");
        assert_eq!(info.uncompressed_latin1_text[0].text, "plain");
        assert_eq!(info.utf8_text[0].keyword, "easel");
        assert_eq!(info.utf8_text[0].get_text().unwrap(), "ünïcode");
    }

    #[test]
    fn generation_params_round_trip() {
        let png = sample_png(8, 6);
        let p = params("a lighthouse, at dusk: 🌅");
        let out = embed_generation_params(&png, &p).unwrap();
        assert_eq!(read_generation_params(&out).unwrap(), Some(p.clone()));
        let text = read_png_text(&out).unwrap();
        assert_eq!(text[0].0, PARAMETERS_KEYWORD);
        assert_eq!(text[0].1, a1111_parameters(&p));
        // Embedding again replaces instead of duplicating.
        let again = embed_generation_params(&out, &p).unwrap();
        assert_eq!(again, out);
        assert_eq!(read_generation_params(&png).unwrap(), None);
    }

    #[test]
    fn a1111_format() {
        let mut p = params("a cat on a mat");
        assert_eq!(
            a1111_parameters(&p),
            "a cat on a mat\nNegative prompt: blurry, low quality\n\
             Seed: 12345, Size: 8x6, Model: landscape-v1, Provider: offline, Easel job: 01J0ABCDEF"
        );
        p.negative_prompt = None;
        p.model = "sdxl, turbo: \"fast\"".into();
        assert_eq!(
            a1111_parameters(&p),
            "a cat on a mat\nSeed: 12345, Size: 8x6, Model: \"sdxl, turbo: \\\"fast\\\"\", \
             Provider: offline, Easel job: 01J0ABCDEF"
        );
        p.negative_prompt = Some("  ".into());
        assert!(!a1111_parameters(&p).contains("Negative prompt"));
        p.prompt = "nul\0here".into();
        assert!(a1111_parameters(&p).starts_with("nulhere\n"));
        embed_generation_params(&sample_png(2, 2), &p).unwrap();
    }

    #[test]
    fn corrupt_input_rejected() {
        let png = sample_png(4, 4);
        let kv = [("k", "v")];
        assert!(matches!(
            embed_png_text(b"GIF89a....", &kv),
            Err(MetadataError::NotPng)
        ));
        assert!(matches!(
            embed_png_text(&[], &kv),
            Err(MetadataError::NotPng)
        ));
        // Truncated anywhere after the signature.
        for cut in [9, 20, 33, png.len() - 5] {
            assert!(embed_png_text(&png[..cut], &kv).is_err(), "cut at {cut}");
        }
        // Missing IEND.
        assert!(matches!(
            embed_png_text(&png[..png.len() - 12], &kv),
            Err(MetadataError::MissingEnd)
        ));
        // Flipped pixel-data byte breaks the IDAT CRC.
        let mut bad = png.clone();
        let n = bad.len();
        bad[n - 20] ^= 0xff;
        assert!(matches!(
            embed_png_text(&bad, &kv),
            Err(MetadataError::BadCrc(_))
        ));
        assert!(read_png_text(&bad).is_err());
        // IHDR with a zero width (CRC fixed up so only the value is wrong).
        let mut bad = png.clone();
        bad[16..20].copy_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&bad[12..29]);
        bad[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            embed_png_text(&bad, &kv),
            Err(MetadataError::BadHeader(_))
        ));
    }

    #[test]
    fn bad_keywords_and_text_rejected() {
        let png = sample_png(2, 2);
        for k in [
            "",
            " lead",
            "trail ",
            "two  spaces",
            "ключ",
            &"k".repeat(80),
        ] {
            assert!(
                matches!(
                    embed_png_text(&png, &[(k, "v")]),
                    Err(MetadataError::BadKeyword { .. })
                ),
                "{k:?}"
            );
        }
        assert!(matches!(
            embed_png_text(&png, &[("k", "a\0b")]),
            Err(MetadataError::NulInText(_))
        ));
    }

    #[test]
    fn trailing_bytes_after_iend_dropped() {
        let mut png = sample_png(2, 2);
        let clean_len = png.len();
        png.extend_from_slice(b"junk after the end");
        let out = embed_png_text(&png, &[("k", "v")]).unwrap();
        assert_eq!(out.len(), clean_len + 12 + 3);
    }
}
