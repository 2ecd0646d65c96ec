//! The rules for text a user sends, in one place: which characters a field may hold, how a
//! tag is normalised, what a user id is. The database refuses some of the same things (a
//! NUL, an over-long user id); checking here first turns them into clear 4xx answers.

use unicode_normalization::UnicodeNormalization;

/// User ids (the token's subject) are 1..=255 characters, as the database stores them.
pub const MAX_USER_ID_CHARS: usize = 255;

/// Which control characters (Unicode `Cc`: NUL, escape, newlines, ...) a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controls {
    /// None at all, nor the Unicode line and paragraph separators: one-line text (titles,
    /// tags, searches, ids, secrets).
    None,
    /// Line breaks and tabs only: multi-line text (descriptions).
    LineBreaks,
}

/// At most `max` characters of `text`, with "…" when cut.
pub fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{}\u{2026}", cut.trim_end())
    }
}

/// What a user sent, quoted for an error message: at most a line of it, so that a long
/// value is named, not sent back whole.
pub fn echo(input: &str) -> String {
    format!("{:?}", short(input, 40))
}

/// The first character of `text` that `allowed` does not permit, if any.
pub fn forbidden_control(text: &str, allowed: Controls) -> Option<char> {
    text.chars().find(|&c| match allowed {
        Controls::None => c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'),
        Controls::LineBreaks => c.is_control() && !matches!(c, '\n' | '\r' | '\t'),
    })
}

/// Whether `text` shows nothing: only white space and characters that render as nothing
/// (`is_invisible`, `is_bidi_control`).
pub fn is_blank(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_whitespace() || is_invisible(c) || is_bidi_control(c))
}

/// Characters that render as nothing, so two strings differing only by them look the
/// same: zero-width space, non-joiner and joiner, word joiner and the invisible operators,
/// soft hyphen, the combining grapheme joiner, the Mongolian vowel separator and the byte
/// order mark.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Bidirectional formatting characters: they reorder how the text around them is shown,
/// so a tag holding one can display as another.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A tag as it is compared and stored: invisible characters removed, Unicode NFKC (so
/// full-width and other compatibility forms become their plain letters), lower case, and
/// trimmed. Applying it twice changes nothing.
pub fn normalize_tag(input: &str) -> String {
    let visible: String = input.chars().filter(|&c| !is_invisible(c)).collect();
    let folded: String = visible.nfkc().collect::<String>().to_lowercase();
    // Lower-casing can leave a string that NFKC would still change (e.g. a capital letter
    // with a combining mark); one more pass makes the result stable.
    folded.nfkc().collect::<String>().trim().to_owned()
}

/// PostgreSQL's English stop words (`tsearch_data/english.stop`), which its English
/// configuration leaves out of documents and queries, and SQLite's search does too.
pub fn is_stop_word(word: &str) -> bool {
    const STOP_WORDS: [&str; 127] = [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "did",
        "do",
        "does",
        "doing",
        "don",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "s",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "t",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ];
    STOP_WORDS
        .binary_search(&word.to_lowercase().as_str())
        .is_ok()
}

/// Whether `id` can be a user id: 1..=255 characters, no control characters.
pub fn check_user_id(id: &str) -> Result<(), String> {
    let chars = id.chars().count();
    if chars == 0 || chars > MAX_USER_ID_CHARS {
        return Err(format!("a user id is 1 to {MAX_USER_ID_CHARS} characters"));
    }
    if forbidden_control(id, Controls::None).is_some() {
        return Err("a user id must not contain control characters".into());
    }
    // A path segment of `.` or `..` is resolved away by every URL parser (even written
    // `%2E`), so `/api/{user_id}/...` could not name such a user.
    if id == "." || id == ".." {
        return Err("a user id cannot be \".\" or \"..\"".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_by_kind() {
        assert_eq!(forbidden_control("buy milk", Controls::None), None);
        assert_eq!(forbidden_control("a\u{0}b", Controls::None), Some('\u{0}'));
        assert_eq!(forbidden_control("a\nb", Controls::None), Some('\n'));
        assert_eq!(forbidden_control("a\r\n\tb", Controls::LineBreaks), None);
        assert_eq!(
            forbidden_control("a\u{1b}[31m", Controls::LineBreaks),
            Some('\u{1b}')
        );
        assert_eq!(
            forbidden_control("a\u{7f}", Controls::LineBreaks),
            Some('\u{7f}')
        );
        // Format characters are not control characters: titles keep them as typed.
        assert_eq!(forbidden_control("a\u{202E}b", Controls::None), None);
    }

    #[test]
    fn look_alike_tags_normalise_to_one() {
        for look_alike in [
            "work",
            "Work",
            " WORK ",
            "wo\u{200B}rk",
            "\u{FEFF}work",
            "w\u{00AD}ork",
            "work\u{2060}",
            "ｗｏｒｋ", // full-width
        ] {
            assert_eq!(normalize_tag(look_alike), "work", "{look_alike:?}");
        }
        assert_eq!(normalize_tag("Ⅻ"), "xii");
        assert_eq!(normalize_tag("ﬁle"), "file");
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        for input in [
            "İstanbul",
            "ǅemal",
            "Σίσυφος",
            "ǰ̌",
            "ﬃ",
            "Ⅻ",
            "ﾃﾞ",
            "e\u{301}",
        ] {
            let once = normalize_tag(input);
            assert_eq!(normalize_tag(&once), once, "{input:?}");
            assert_eq!(once.to_lowercase(), once, "{input:?}");
        }
    }

    #[test]
    fn bidi_controls_are_named() {
        for c in ['\u{202E}', '\u{2066}', '\u{200F}', '\u{061C}'] {
            assert!(is_bidi_control(c), "{c:?}");
        }
        assert!(!is_bidi_control('a'));
    }

    #[test]
    fn user_ids() {
        assert!(check_user_id("alice").is_ok());
        assert!(check_user_id(&"é".repeat(255)).is_ok());
        assert!(check_user_id(&"é".repeat(256)).is_err());
        assert!(check_user_id("").is_err());
        assert!(check_user_id("al\u{0}ice").is_err());
        assert!(check_user_id("alice\nadmin").is_err());
        assert!(check_user_id(".").is_err() && check_user_id("..").is_err());
        assert!(check_user_id("...").is_ok() && check_user_id(".alice").is_ok());
    }
}
