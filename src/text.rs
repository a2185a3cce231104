//! Turning message text into segments for display: plain text and web links.
//!
//! Message text comes from peers, so the popup renders it as text only; this module finds the `http://` and
//! `https://` URLs in it so the popup can make just those clickable. Nothing else becomes a link: no
//! `javascript:`, `data:` or bare `www.` addresses. The segments borrow from the input and, concatenated,
//! give it back unchanged.

/// A piece of message text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    /// An `http://` or `https://` URL (the scheme in any letter case, as browsers accept it).
    Link(&'a str),
}

impl<'a> Segment<'a> {
    pub fn as_str(&self) -> &'a str {
        match *self {
            Segment::Text(text) | Segment::Link(text) => text,
        }
    }
}

/// Splits `text` into text and link segments, in order; concatenating them gives `text` back.
///
/// A link starts at `http://` or `https://` that does not continue a word, and runs up to whitespace or a
/// character that cannot appear in a URL typed in prose (`<`, `>`, `"`, control characters). Punctuation
/// that usually ends the sentence rather than the URL (`.`, `,`, `!`, a closing bracket with no opening
/// one in the URL, …) is left out of the link. Linear in the length of `text`; never panics.
pub fn linkify(text: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    // Start of the text not yet emitted, and where to look for the next scheme.
    let mut emitted = 0;
    let mut search = 0;
    while let Some(start) = find_scheme(text, search) {
        match link_end(text, start) {
            Some(end) => {
                if emitted < start {
                    segments.push(Segment::Text(&text[emitted..start]));
                }
                segments.push(Segment::Link(&text[start..end]));
                emitted = end;
                search = end;
            }
            // "http" is ASCII, so one byte further is still a char boundary.
            None => search = start + 1,
        }
    }
    if emitted < text.len() {
        segments.push(Segment::Text(&text[emitted..]));
    }
    segments
}

/// The byte offset of the next `http://` or `https://` at or after `from` that does not continue a word.
/// Offsets found by matching ASCII bytes are always char boundaries: UTF-8 never uses bytes below 0x80
/// inside a multi-byte character.
fn find_scheme(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() {
        let offset = bytes[at..].iter().position(|b| b.eq_ignore_ascii_case(&b'h'))?;
        let start = at + offset;
        let rest = &bytes[start..];
        let is_scheme = starts_with_ignore_case(rest, b"http://") || starts_with_ignore_case(rest, b"https://");
        // "xhttp://…" is part of a word, not a link someone typed. Only ASCII counts: Chinese or Japanese
        // prose puts no space before a URL.
        let continues_word = text[..start].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
        if is_scheme && !continues_word {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Where the link starting at `start` ends (exclusive), or `None` if there is no host after the scheme.
fn link_end(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start..];
    let scheme_len = rest.find("://")? + "://".len();
    let candidate_len = rest.char_indices().find(|&(_, c)| ends_url(c)).map_or(rest.len(), |(at, _)| at);
    let mut candidate = &rest[..candidate_len];

    // Brackets are kept when the URL opened them (`…/Rust_(language)`), dropped when the prose did
    // (`(see https://example.com)`). Counted once, then updated while trimming, to stay linear.
    let mut open = [0usize; 3];
    let mut close = [0usize; 3];
    for c in candidate.chars() {
        if let Some(kind) = opening(c) {
            open[kind] += 1;
        } else if let Some(kind) = closing(c) {
            close[kind] += 1;
        }
    }
    while let Some(last) = candidate.chars().next_back() {
        let trim = if let Some(kind) = closing(last) {
            let unbalanced = close[kind] > open[kind];
            if unbalanced {
                close[kind] -= 1;
            }
            unbalanced
        } else {
            is_trailing_punctuation(last)
        };
        if !trim || candidate.len() <= scheme_len {
            break;
        }
        candidate = &candidate[..candidate.len() - last.len_utf8()];
    }

    // A host must follow: "http://" alone, or "http://." in prose, is not a link.
    let host_start = candidate[scheme_len..].chars().next()?;
    (host_start.is_alphanumeric() || host_start == '[').then_some(start + candidate.len())
}

/// Characters that end a URL written in running text. Full-width CJK punctuation is among them because
/// Chinese and Japanese prose runs on after a URL without a space.
fn ends_url(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '<' | '>'
                | '"'
                | '`'
                | '\u{200B}'
                | '\u{FEFF}'
                | '。'
                | '、'
                | '，'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '【'
                | '】'
        )
}

/// Punctuation that, at the end of a URL, almost always belongs to the sentence around it.
fn is_trailing_punctuation(c: char) -> bool {
    matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' | '…' | '！' | '？' | '’' | '”' | '»')
}

fn opening(c: char) -> Option<usize> {
    match c {
        '(' => Some(0),
        '[' => Some(1),
        '{' => Some(2),
        _ => None,
    }
}

fn closing(c: char) -> Option<usize> {
    match c {
        ')' => Some(0),
        ']' => Some(1),
        '}' => Some(2),
        _ => None,
    }
}
