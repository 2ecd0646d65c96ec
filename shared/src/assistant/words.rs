//! The message as words: each token with its text as typed and a normalised form to match
//! phrases against, and the small vocabularies (numbers, ordinals, units) the phrases share.

/// Quote characters that open or close a quoted span.
const QUOTES: &[char] = &['"', '\u{201C}', '\u{201D}', '\u{201E}'];
/// Punctuation trimmed from both ends of a word before it is matched.
const EDGE_PUNCTUATION: &[char] = &[
    ',', '.', ';', ':', '!', '?', '(', ')', '[', ']', '{', '}', '"', '\'', '\u{2018}', '\u{2019}',
    '\u{201C}', '\u{201D}', '\u{201E}', '\u{00BF}', '\u{00A1}', '\u{2026}',
];

/// One word of the message.
#[derive(Debug, Clone)]
pub(super) struct Tok<'a> {
    /// The word as typed, with any quote characters on it.
    pub text: &'a str,
    /// The word as typed without its quote characters, for titles and targets.
    pub raw: &'a str,
    /// Lower case, edge punctuation removed, curly apostrophes straightened: what phrases match.
    pub norm: String,
    /// Inside "double quotes": kept as text, never read as a date, a tag or a keyword.
    pub quoted: bool,
    /// Byte offset of `text` in the message.
    pub start: usize,
}

impl Tok<'_> {
    /// Whether this word, unquoted, is `word`.
    pub fn is(&self, word: &str) -> bool {
        !self.quoted && self.norm == word
    }

    /// Whether this word, unquoted, is one of `words`.
    pub fn is_any(&self, words: &[&str]) -> bool {
        !self.quoted && words.contains(&self.norm.as_str())
    }

    /// The normalised word, or "" for a quoted one (so that no phrase matches it).
    pub fn word(&self) -> &str {
        if self.quoted {
            ""
        } else {
            &self.norm
        }
    }
}

/// Splits a message into words at white space and control characters (a control character
/// can never be part of a title). Words between double quotes are marked `quoted`; an
/// unclosed quote runs to the end.
pub(super) fn tokenize(message: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut in_quote = false;
    let mut start = None;
    let mut push = |from: usize, to: usize, in_quote: &mut bool| {
        let text = &message[from..to];
        let opens = !*in_quote && text.starts_with(QUOTES);
        let body = text.trim_end_matches([',', ';', '.', '!', '?', ':']);
        let closes =
            (opens || *in_quote) && body.ends_with(QUOTES) && !(opens && body.chars().count() == 1);
        let quoted = opens || *in_quote;
        let raw = text.trim_matches(QUOTES);
        let raw = if quoted && closes {
            body.trim_matches(QUOTES)
        } else {
            raw
        };
        if opens {
            *in_quote = true;
        }
        if closes {
            *in_quote = false;
        }
        if raw.is_empty() {
            return;
        }
        toks.push(Tok {
            text,
            raw,
            norm: normalise(raw),
            quoted,
            start: from,
        });
    };
    for (i, c) in message.char_indices() {
        if c.is_whitespace() || c.is_control() {
            if let Some(from) = start.take() {
                push(from, i, &mut in_quote);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(from) = start {
        push(from, message.len(), &mut in_quote);
    }
    toks
}

fn normalise(word: &str) -> String {
    word.to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .trim_matches(EDGE_PUNCTUATION)
        .to_owned()
}

/// The words joined by single spaces, as typed (quotes removed).
pub(super) fn join_raw(toks: &[Tok]) -> String {
    let mut out = String::new();
    for t in toks {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t.raw);
    }
    out
}

/// The words joined by single spaces with their quotes (for a search, where quotes mean a phrase).
pub(super) fn join_text(toks: &[Tok]) -> String {
    toks.iter().map(|t| t.text).collect::<Vec<_>>().join(" ")
}

/// Removes punctuation a sentence leaves at the end of a title or target ("pay rent," → "pay rent").
pub(super) fn trim_text(text: &str) -> &str {
    text.trim()
        .trim_end_matches([',', ';', ':', '.', '!', '?', '-', '\u{2013}', '\u{2014}'])
        .trim_start_matches([',', ';', ':', '-', '\u{2013}', '\u{2014}'])
        .trim()
}

/// Whether the words from `at` start with `phrase` (space-separated, unquoted words).
pub(super) fn starts_with(toks: &[Tok], at: usize, phrase: &str) -> bool {
    let mut i = at;
    for word in phrase.split(' ') {
        match toks.get(i) {
            Some(t) if t.is(word) => i += 1,
            _ => return false,
        }
    }
    true
}

/// The first of `phrases` the words start with, and its length in words.
pub(super) fn match_phrase(toks: &[Tok], at: usize, phrases: &[&str]) -> Option<usize> {
    phrases
        .iter()
        .filter(|p| starts_with(toks, at, p))
        .map(|p| p.split(' ').count())
        .max()
}

/// A count: digits (up to 100,000) or a number word ("a", "an", "one" ... "twelve").
pub(super) fn number(word: &str) -> Option<u32> {
    if !word.is_empty() && word.len() <= 6 && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok().filter(|n| *n <= 100_000);
    }
    Some(match word {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ => return None,
    })
}

/// An ordinal written with digits ("1st", "22nd", "3rd", "15th"): the number.
pub(super) fn ordinal(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    let expected = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    (suffix == expected).then_some(n)
}

/// An ordinal word ("first" ... "tenth"), for "the second one".
pub(super) fn ordinal_word(word: &str) -> Option<u32> {
    Some(match word {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        _ => return None,
    })
}

/// A unit of time as people write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    pub fn parse(word: &str) -> Option<Unit> {
        Some(match word {
            "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
            "d" | "day" | "days" => Unit::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Unit::Week,
            "month" | "months" => Unit::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
            _ => return None,
        })
    }

    /// Minutes in one unit, for the units a reminder can use.
    pub fn minutes(self) -> Option<u32> {
        match self {
            Unit::Minute => Some(1),
            Unit::Hour => Some(60),
            Unit::Day => Some(1440),
            Unit::Week => Some(10_080),
            Unit::Month | Unit::Year => None,
        }
    }
}

/// "N unit" at `at`, as two words ("3 days", "an hour") or one ("30min", "2h"); the count,
/// the unit and how many words it took. "half an hour" is 30 minutes.
pub(super) fn quantity(toks: &[Tok], at: usize) -> Option<(u32, Unit, usize)> {
    if starts_with(toks, at, "half an hour") {
        return Some((30, Unit::Minute, 3));
    }
    let first = toks.get(at)?.word();
    if let Some(n) = number(first) {
        let unit = Unit::parse(toks.get(at + 1)?.word())?;
        return Some((n, unit, 2));
    }
    let digits = first.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = Unit::parse(&first[digits.len()..])?;
    let n = number(digits).filter(|_| !digits.is_empty() && digits.len() < first.len())?;
    Some((n, unit, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_the_text_and_normalise_for_matching() {
        let toks = tokenize("Add \u{201C}Friday drinks\u{201D}, tomorrow\u{2026} What\u{2019}s");
        let norms: Vec<_> = toks.iter().map(|t| t.norm.as_str()).collect();
        assert_eq!(norms, ["add", "friday", "drinks", "tomorrow", "what's"]);
        assert!(toks[1].quoted && toks[2].quoted && !toks[3].quoted);
        assert_eq!(join_raw(&toks[1..3]), "Friday drinks");
    }

    #[test]
    fn control_characters_separate_words() {
        let toks = tokenize("add\u{0}milk\u{7}\ttoday");
        assert_eq!(toks.len(), 3);
    }

    #[test]
    fn ordinals_need_the_right_suffix() {
        assert_eq!(ordinal("1st"), Some(1));
        assert_eq!(ordinal("22nd"), Some(22));
        assert_eq!(ordinal("13th"), Some(13));
        assert_eq!(ordinal("11st"), None);
        assert_eq!(ordinal("st"), None);
    }

    #[test]
    fn quantities() {
        let toks = tokenize("30min 2 hours an hour half an hour");
        assert_eq!(quantity(&toks, 0), Some((30, Unit::Minute, 1)));
        assert_eq!(quantity(&toks, 1), Some((2, Unit::Hour, 2)));
        assert_eq!(quantity(&toks, 3), Some((1, Unit::Hour, 2)));
        assert_eq!(quantity(&toks, 5), Some((30, Unit::Minute, 3)));
    }
}
