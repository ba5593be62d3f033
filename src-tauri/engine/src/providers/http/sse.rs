//! Server-sent events, as far as providers use them: events end with a
//! blank line, and an event's `data:` lines are its payload (joined by
//! newlines). `event:`, `id:` and comment lines are not needed: OpenAI's
//! payloads name their own type.

/// Remove every complete event from the front of `buf` and return their
/// data (events without data are dropped); an incomplete tail stays.
/// `scanned`: how much of `buf` is known to hold no blank line (so a large
/// event arriving in many chunks is not searched again from its start).
pub fn take_events(buf: &mut Vec<u8>, scanned: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        // A separator may straddle the previous chunk's end.
        let from = scanned.saturating_sub(3).min(buf.len());
        let Some((at, sep)) = blank_line(&buf[from..]) else {
            *scanned = buf.len();
            break;
        };
        let end = from + at;
        *scanned = 0;
        let event: Vec<u8> = buf.drain(..end + sep).take(end).collect();
        let text = String::from_utf8_lossy(&event);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if !data.is_empty() {
            out.push(data.join("\n"));
        }
    }
    out
}

/// Where the first blank line starts, and how long the separator is.
fn blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_and_keeps_an_incomplete_tail() {
        let mut scanned = 0;
        let mut buf =
            b"event: a\ndata: {\"x\":1}\n\n: comment\n\ndata: one\ndata: two\r\n\r\ndata: par"
                .to_vec();
        assert_eq!(
            take_events(&mut buf, &mut scanned),
            vec!["{\"x\":1}", "one\ntwo"]
        );
        assert_eq!(buf, b"data: par");
        buf.extend_from_slice(b"tial\n");
        assert!(take_events(&mut buf, &mut scanned).is_empty());
        // The blank line completes across two chunks.
        buf.extend_from_slice(b"\n");
        assert_eq!(take_events(&mut buf, &mut scanned), vec!["partial"]);
        assert!(buf.is_empty());
    }
}
