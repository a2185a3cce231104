//! Names as the UI shows them: group names and usernames with bidirectional-override and control
//! characters removed, so a name cannot reorder what is displayed around it, hide text, or pose as another.
//!
//! It is not validation: a username's characters are already limited by [`crate::account::Username`];
//! group names are free text from peers, cleaned here both when stored and when shown.

/// `name` without control characters (C0, C1, DEL), bidirectional embeddings, overrides, isolates and
/// marks, and the invisible characters that can make two different names look alike. Other text
/// (letters of every script, emoji, the zero-width joiner inside emoji sequences) is kept.
pub fn display_name(name: &str) -> String {
    // Line breaks and tabs separate words: they become one space, like any run of spaces.
    let cleaned: String =
        name.chars().map(|it| if it.is_whitespace() { ' ' } else { it }).filter(|it| !is_hidden(*it)).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_hidden(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            // Bidirectional marks, embeddings, overrides and isolates.
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Invisible spaces and joiners that are not part of emoji (zero-width space and non-joiner,
            // word joiner, invisible operators, the byte-order mark) and interlinear annotations.
            | '\u{200b}' | '\u{200c}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
            // Soft hyphen and Hangul fillers render as nothing.
            | '\u{00ad}' | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_control_characters_are_removed() {
        assert_eq!(display_name("Fri\u{202e}sdne\u{7}\u{200f}"), "Frisdne");
        assert_eq!(display_name("\u{2067}bob\u{2069}"), "bob");
        assert_eq!(display_name("a\nb\tc"), "a b c");
        assert_eq!(display_name("  Team   A  "), "Team A");
        assert_eq!(display_name("b\u{200b}ob"), "bob");
    }

    #[test]
    fn ordinary_text_is_kept() {
        for name in ["Friends", "Ελληνικά", "עברית", "家族", "👨\u{200d}👩\u{200d}👧 family"] {
            assert_eq!(display_name(name), name);
        }
    }
}
