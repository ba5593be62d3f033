//! File-name-safe slugs made from prompts.

/// What an empty slug becomes, so file names never end in `-.png`.
const FALLBACK: &str = "image";

/// Turns `prompt` into lowercase ASCII words joined by single `-`.
///
/// Accented Latin letters are transliterated (`é` -> `e`, `ß` -> `ss`); other
/// characters (CJK, emoji, punctuation, `/`, `\`, `.`) separate words and are
/// dropped. The result is cut at a word boundary to at most `max_chars`
/// (a single over-long first word is cut mid-word) and is never empty: it
/// falls back to `"image"`, even when `max_chars` is smaller than that.
pub fn slug(prompt: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for word in words(prompt) {
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + word.len() > max_chars {
            if out.is_empty() {
                // One word longer than the limit: a hard cut beats nothing.
                // The word is ASCII, so any byte index is a char boundary.
                out.push_str(&word[..max_chars]);
            }
            break;
        }
        if sep == 1 {
            out.push('-');
        }
        out.push_str(&word);
    }
    if out.is_empty() {
        FALLBACK.to_string()
    } else {
        out
    }
}

/// The prompt's words, lowercased and reduced to ASCII alphanumerics.
fn words(prompt: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = prompt.chars().flat_map(char::to_lowercase);
    std::iter::from_fn(move || {
        let mut word = String::new();
        for c in chars.by_ref() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else if let Some(t) = transliterate(c) {
                word.push_str(t);
            } else if ('\u{300}'..='\u{36f}').contains(&c) {
                // Combining accents (decomposed "e\u{301}") belong to their letter.
            } else if !word.is_empty() {
                return Some(word);
            }
        }
        (!word.is_empty()).then_some(word)
    })
}

/// ASCII for the accented Latin letters where the mapping is obvious.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::slug;

    fn is_clean(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    #[test]
    fn basic_words() {
        assert_eq!(
            slug("A Cat, sitting on a Mat!", 48),
            "a-cat-sitting-on-a-mat"
        );
        assert_eq!(
            slug("  multiple   spaces\tand\nlines  ", 48),
            "multiple-spaces-and-lines"
        );
        assert_eq!(slug("8k photo, 35mm", 48), "8k-photo-35mm");
    }

    #[test]
    fn unicode_is_transliterated_or_dropped() {
        assert_eq!(slug("Crème brûlée à Paris", 48), "creme-brulee-a-paris");
        assert_eq!(slug("Straße in Łódź", 48), "strasse-in-lodz");
        assert_eq!(slug("ÆSIR SØNNER", 48), "aesir-sonner");
        assert_eq!(slug("cafe\u{301} noir", 48), "cafe-noir");
        assert_eq!(slug("猫 cat 🐈 and 🌅 sunset", 48), "cat-and-sunset");
        assert_eq!(slug("日本の風景", 48), "image");
        assert_eq!(slug("🔥🔥🔥", 48), "image");
    }

    #[test]
    fn never_empty() {
        assert_eq!(slug("", 48), "image");
        assert_eq!(slug("!!! ... ///", 48), "image");
        assert_eq!(slug("cat", 0), "image");
    }

    #[test]
    fn no_path_tricks() {
        for nasty in [
            "../../etc/passwd",
            "..\\..\\windows\\system32",
            "/abs/path.png",
            ".hidden",
            "a/./b/../c",
        ] {
            let s = slug(nasty, 48);
            assert!(is_clean(&s), "{nasty:?} -> {s:?}");
            assert!(!s.contains('/') && !s.contains('\\') && !s.contains('.'));
        }
        assert_eq!(slug("../../etc/passwd", 48), "etc-passwd");
    }

    #[test]
    fn trimmed_at_word_boundary() {
        assert_eq!(slug("alpha beta gamma", 10), "alpha-beta");
        assert_eq!(slug("alpha beta gamma", 11), "alpha-beta");
        assert_eq!(slug("alpha beta gamma", 9), "alpha");
        assert_eq!(slug("alpha beta gamma", 16), "alpha-beta-gamma");
        assert_eq!(slug("straße x", 5), "stras");
        assert_eq!(slug("straße x", 8), "strasse");
        // A lone over-long word is cut hard.
        assert_eq!(slug("supercalifragilistic", 5), "super");
        assert_eq!(slug("!!! supercalifragilistic", 5), "super");
    }

    #[test]
    fn long_input_is_bounded() {
        let long = "the quick brown fox jumps over the lazy dog ".repeat(500);
        let s = slug(&long, 48);
        assert!(s.len() <= 48 && is_clean(&s), "{s}");
        assert!(s.starts_with("the-quick-brown-fox"));
        let word = "x".repeat(10_000);
        assert_eq!(slug(&word, 48).len(), 48);
    }
}
