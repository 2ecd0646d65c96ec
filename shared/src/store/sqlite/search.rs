//! The list's search on SQLite: the API's web-search syntax read as PostgreSQL reads it
//! (`websearch_to_tsquery('english', ..)`, PostgreSQL 15), matched with FTS5.
//!
//! PostgreSQL's reading, followed step by step (`Search::parse`):
//! - words are ANDed; `"quoted text"` is one operand (an unclosed quote runs to the end);
//! - `-` before an operand negates it (each `-` again); the word `or` between two operands
//!   is OR, which binds weaker than AND; the characters `! & | ( ) <` are ignored;
//! - an operand is split into words, matched as a phrase; English stop words are dropped
//!   (at the ends of a phrase; inside one they stay), and an operand left with no word is
//!   dropped with its operator. A query left with nothing matches nothing.
//!
//! The result is an OR of groups, each an AND of included and excluded phrases. Each group
//! becomes FTS5 MATCH expressions in which every phrase is a double-quoted string of its
//! words, and a word holds only letters and digits: no text of the user reaches FTS5 as
//! syntax. FTS5 has no unary NOT, so a group of exclusions only is written as "not among
//! the matches of any of them" (`Group::excluded`).
//!
//! A task is matched against one text of its title, tags and description (`document`),
//! laid out as PostgreSQL lays out its vector of the three (see there).
//!
//! Known differences from PostgreSQL, all at the edges of the syntax: its parser keeps some
//! compounds as one word (`e-mail`, `foo.bar`, e-mail addresses, URLs), where FTS5 matches
//! their parts as a phrase; a stop word inside a quoted phrase matches only itself here,
//! any word there; and FTS5's Porter stemmer differs from Snowball's English stemmer on a
//! few words.

use crate::domain::text::is_stop_word;
use crate::domain::SearchDocument;

/// A parsed search: any of its groups matches. Empty: matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Search {
    pub groups: Vec<Group>,
}

/// Every `include` phrase and none of the `exclude` phrases (at least one of the two).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Group {
    pub include: Vec<Phrase>,
    pub exclude: Vec<Phrase>,
}

/// Words in a row, each of letters and digits only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Phrase(Vec<String>);

impl Group {
    /// The FTS5 expression of the tasks this group matches, when it includes a phrase.
    pub fn matching(&self) -> Option<String> {
        if self.include.is_empty() {
            return None;
        }
        let include = join(&self.include, " AND ");
        Some(if self.exclude.is_empty() {
            include
        } else {
            format!("({include}) NOT ({})", join(&self.exclude, " OR "))
        })
    }

    /// The FTS5 expression of the tasks this group's exclusions rule out (for a group of
    /// exclusions only: it matches every other task).
    pub fn excluded(&self) -> String {
        join(&self.exclude, " OR ")
    }
}

fn join(phrases: &[Phrase], operator: &str) -> String {
    phrases
        .iter()
        .map(Phrase::fts5)
        .collect::<Vec<_>>()
        .join(operator)
}

impl Phrase {
    /// As an FTS5 string: its words in double quotes (a quote inside would be doubled;
    /// words have none).
    fn fts5(&self) -> String {
        format!("\"{}\"", self.0.join(" ").replace('"', "\"\""))
    }

    /// The phrase of `operand`'s words, stop words at its ends dropped; `None` when no
    /// word is left.
    fn of(operand: &str) -> Option<Phrase> {
        let words: Vec<String> = words(operand).map(|(_, w)| w.to_owned()).collect();
        let first = words.iter().position(|w| !is_stop_word(w))?;
        let last = words.iter().rposition(|w| !is_stop_word(w))?;
        Some(Phrase(words[first..=last].to_vec()))
    }
}

/// The words of `text` (runs of letters and digits), each with its byte offset.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

/// The text of a task's search entry: its title, tags and description in one text, as
/// PostgreSQL concatenates their vectors into one (a phrase may run from one into the
/// next). Stop words at the end of the title and of the tags are left out: PostgreSQL's
/// concatenation continues from the last word it keeps, so the next field's first word
/// follows that one.
pub(super) fn document(task: &SearchDocument<'_>) -> String {
    fn without_trailing_stop_words(text: &str) -> &str {
        let end = words(text)
            .filter(|(_, w)| !is_stop_word(w))
            .last()
            .map_or(0, |(start, w)| start + w.len());
        &text[..end]
    }
    format!(
        "{} {} {}",
        without_trailing_stop_words(task.title),
        without_trailing_stop_words(&task.tags),
        task.description
    )
}

/// What the scanner (PostgreSQL's `gettoken_query_websearch`) finds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Not,
    And,
    Or,
    /// An operand's text (its words are found later).
    Operand(String),
    /// A missing operand after an operator (PostgreSQL's `pushStop`).
    Nothing,
}

impl Search {
    pub fn parse(input: &str) -> Search {
        let mut groups = Vec::new();
        let mut group = Group::default();
        let mut negated = false;
        for token in tokens(input) {
            match token {
                Token::Not => negated = !negated,
                Token::And => {}
                Token::Or => groups.push(std::mem::take(&mut group)),
                Token::Operand(text) => {
                    if let Some(phrase) = Phrase::of(&text) {
                        if negated {
                            group.exclude.push(phrase);
                        } else {
                            group.include.push(phrase);
                        }
                    }
                    negated = false;
                }
                Token::Nothing => negated = false,
            }
        }
        groups.push(group);
        // Stop words are removed with their operators: an empty group drops out of the OR.
        groups.retain(|g| !g.include.is_empty() || !g.exclude.is_empty());
        Search { groups }
    }
}

/// The characters the web-search syntax ignores between operands (PostgreSQL's
/// `ISOPERATOR`); they also end an unquoted operand.
fn is_operator(c: char) -> bool {
    matches!(c, '!' | '&' | '|' | '(' | ')' | '<')
}

/// PostgreSQL's scanner: `-`, quotes and operator characters where an operand is
/// expected; `or` or an implicit AND where an operator is.
fn tokens(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut first = true;
    let mut want_operand = true;
    loop {
        if want_operand {
            match chars.get(i) {
                None => {
                    if !first {
                        tokens.push(Token::Nothing);
                    }
                    return tokens;
                }
                Some('-') => {
                    tokens.push(Token::Not);
                    i += 1;
                    first = false;
                }
                Some('"') => {
                    let start = i + 1;
                    let end = chars[start..]
                        .iter()
                        .position(|&c| c == '"')
                        .map_or(chars.len(), |n| start + n);
                    tokens.push(Token::Operand(chars[start..end].iter().collect()));
                    i = (end + 1).min(chars.len());
                    want_operand = false;
                    first = false;
                }
                Some(&c) if is_operator(c) => {
                    i += 1;
                    first = false;
                }
                Some(c) if c.is_whitespace() => i += 1,
                Some(_) => {
                    let start = i;
                    while chars
                        .get(i)
                        .is_some_and(|&c| !c.is_whitespace() && !is_operator(c) && c != '"')
                    {
                        i += 1;
                    }
                    tokens.push(Token::Operand(chars[start..i].iter().collect()));
                    want_operand = false;
                    first = false;
                }
            }
        } else {
            match chars.get(i) {
                None => return tokens,
                Some(_) if is_or_operator(&chars[i..]) => {
                    tokens.push(Token::Or);
                    i += 2;
                    want_operand = true;
                }
                Some(&c) if is_operator(c) || c.is_whitespace() => i += 1,
                Some(_) => {
                    tokens.push(Token::And);
                    want_operand = true;
                }
            }
        }
    }
}

/// Whether `rest` starts with the operator `or` (PostgreSQL's `parse_or_operator`): the
/// word `or` in any case, not part of a longer word, and followed by something.
fn is_or_operator(rest: &[char]) -> bool {
    let [o, r, next, after @ ..] = rest else {
        return false;
    };
    o.eq_ignore_ascii_case(&'o')
        && r.eq_ignore_ascii_case(&'r')
        && !(*next == '-' || *next == '_' || next.is_alphanumeric())
        && after.iter().any(|c| !c.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search as text: groups joined by `|`, phrases by `&`, exclusions marked `!`,
    /// the words of a phrase by `<->`: PostgreSQL's `websearch_to_tsquery` output, unstemmed.
    fn read(input: &str) -> String {
        Search::parse(input)
            .groups
            .iter()
            .map(|g| {
                let phrase = |p: &Phrase| p.0.join(" <-> ");
                g.include
                    .iter()
                    .map(phrase)
                    .chain(g.exclude.iter().map(|p| format!("!{}", phrase(p))))
                    .collect::<Vec<_>>()
                    .join(" & ")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn the_stop_word_list_is_sorted() {
        assert!(is_stop_word("the") && is_stop_word("yourselves") && is_stop_word("A"));
        assert!(!is_stop_word("milk"));
    }

    /// Each case is PostgreSQL 15's reading (`select websearch_to_tsquery('english', ..)`),
    /// less its stemming, with a compound word read as the phrase of its parts.
    #[test]
    fn web_search_reads_as_postgresql_reads_it() {
        for (input, postgres) in [
            ("milk", "milk"),
            ("buy milk", "buy & milk"),
            ("the", ""),
            ("the milk", "milk"),
            ("buy the milk", "buy & milk"),
            ("\"buy the milk\"", "buy <-> the <-> milk"), // PostgreSQL: 'buy' <2> 'milk'
            ("\"the milk\"", "milk"),
            ("\"milk the\"", "milk"),
            ("\"buy milk\" eggs", "buy <-> milk & eggs"),
            ("-milk", "!milk"),
            ("milk -bread", "milk & !bread"),
            ("- milk", "!milk"),
            ("--milk", "milk"),
            ("milk - bread", "milk & !bread"),
            ("milk -- bread", "milk & bread"),
            ("milk-bread", "milk <-> bread"),
            ("milk or bread", "milk | bread"),
            ("milk OR bread", "milk | bread"),
            ("Or milk or Bread", "milk | Bread"),
            ("or milk", "milk"),
            ("milk or", "milk"),
            ("milk or or bread", "milk | bread"),
            ("milk or -bread", "milk | !bread"),
            ("-milk or bread", "!milk | bread"),
            ("a b or c d", "b | c & d"),
            ("milk -\"buy milk\"", "milk & !buy <-> milk"),
            ("-\"the\"", ""),
            ("milk -the", "milk"),
            ("milk or -the", "milk"),
            ("\"unclosed phrase", "unclosed <-> phrase"),
            ("milk \"", "milk"),
            ("\"", ""),
            ("\"\"", ""),
            ("x \"\"  y", "x & y"),
            ("milk (bread)", "milk & bread"),
            ("milk & bread", "milk & bread"),
            ("milk | bread", "milk & bread"),
            ("milk !bread", "milk & bread"),
            ("milk<bread", "milk & bread"),
            ("milk\"bread\"", "milk & bread"),
            ("milk or\"", "milk"),
            ("milk or \"bread\"", "milk | bread"),
            ("milk or(bread)", "milk | bread"),
            ("milk orange", "milk & orange"),
            ("milk or_x", "milk & x"), // "or_x": the words or (a stop word) and x
            ("milk or-bread", "milk & bread"), // PostgreSQL: 'or-bread' <2> 'bread'
            ("milk:*", "milk"),
            ("milk*", "milk"),
            ("don't", ""),
            ("it's", ""),
            ("l'eau", "l <-> eau"),
            ("milk,bread", "milk <-> bread"),
            ("foo_bar", "foo <-> bar"),
            ("naïve café", "naïve & café"),
            ("ÜBER straße", "ÜBER & straße"),
            ("or", ""),
            ("-", ""),
            ("milk -", "milk"),
            ("\"-milk\"", "milk"),
            ("\"milk or bread\"", "milk <-> or <-> bread"), // PostgreSQL: 'milk' <2> 'bread'
            ("\"milk -bread\"", "milk <-> bread"),
        ] {
            assert_eq!(read(input), postgres, "{input:?}");
        }
    }

    #[test]
    fn the_document_runs_on_from_the_last_word_postgresql_keeps() {
        let doc = SearchDocument {
            title: "buy it's",
            tags: "café the".into(),
            description: "the cake and",
        };
        // PostgreSQL: 'buy':1 'café':2 'cake':4 (the title's "it's" and the tag "the"
        // are stop words it does not keep).
        assert_eq!(document(&doc), "buy café the cake and");
        let stop_words_only = SearchDocument {
            title: "The",
            tags: String::new(),
            description: "",
        };
        assert_eq!(document(&stop_words_only), "  ");
    }

    #[test]
    fn every_phrase_reaches_fts5_quoted() {
        let search = Search::parse("NEAR(a b) OR title:x* \"c AND d\" -e ^f");
        let fts: Vec<(Option<String>, String)> = search
            .groups
            .iter()
            .map(|g| (g.matching(), g.excluded()))
            .collect();
        assert_eq!(
            fts,
            [
                (Some("\"NEAR\" AND \"b\"".into()), String::new()),
                (
                    Some("(\"title x\" AND \"c AND d\" AND \"f\") NOT (\"e\")".into()),
                    "\"e\"".into()
                ),
            ]
        );
        let only_exclusions = Search::parse("-milk -bread");
        assert_eq!(only_exclusions.groups[0].matching(), None);
        assert_eq!(
            only_exclusions.groups[0].excluded(),
            "\"milk\" OR \"bread\""
        );
    }
}
