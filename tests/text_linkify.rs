//! Linkifying message text: which URLs become links, what trailing punctuation stays text, and that any
//! input (multi-byte UTF-8 included) splits into segments that give it back.

use multichat_core::text::{Segment, linkify};
use proptest::prelude::*;

use Segment::{Link, Text};

#[test]
fn plain_text_is_one_text_segment() {
    assert_eq!(linkify("hello bob ✓ 🌍 <b>not bold</b>"), vec![Text("hello bob ✓ 🌍 <b>not bold</b>")]);
    assert_eq!(linkify(""), vec![]);
}

#[test]
fn http_and_https_urls_become_links() {
    assert_eq!(
        linkify("see https://example.com/a?b=c#d and http://127.0.0.1:9000/x"),
        vec![Text("see "), Link("https://example.com/a?b=c#d"), Text(" and "), Link("http://127.0.0.1:9000/x")]
    );
    assert_eq!(linkify("https://example.com"), vec![Link("https://example.com")]);
    assert_eq!(linkify("HTTPS://EXAMPLE.COM"), vec![Link("HTTPS://EXAMPLE.COM")]);
    assert_eq!(linkify("http://[::1]:8080/"), vec![Link("http://[::1]:8080/")]);
}

#[test]
fn other_schemes_and_bare_domains_stay_text() {
    for text in
        ["javascript:alert(1)", "data:text/html,<b>x</b>", "www.example.com", "ftp://example.com", "file:///etc/passwd"]
    {
        assert_eq!(linkify(text), vec![Text(text)], "{text}");
    }
}

#[test]
fn a_scheme_inside_a_word_or_without_host_is_not_a_link() {
    assert_eq!(linkify("xhttp://example.com"), vec![Text("xhttp://example.com")]);
    assert_eq!(linkify("http:// nothing"), vec![Text("http:// nothing")]);
    assert_eq!(linkify("http://."), vec![Text("http://.")]);
    assert_eq!(linkify("https://)"), vec![Text("https://)")]);
    // A non-link scheme followed by a link on the same word: the link part is found.
    assert_eq!(linkify("javascript:https://example.com"), vec![Text("javascript:"), Link("https://example.com")]);
}

#[test]
fn trailing_sentence_punctuation_is_not_part_of_the_link() {
    for (text, link, tail) in [
        ("https://example.com.", "https://example.com", "."),
        ("https://example.com/a,", "https://example.com/a", ","),
        ("https://example.com?!", "https://example.com", "?!"),
        ("https://example.com/…", "https://example.com/", "…"),
        ("https://example.com/x';", "https://example.com/x", "';"),
        ("https://example.com/。", "https://example.com/", "。"),
    ] {
        assert_eq!(linkify(text), vec![Link(link), Text(tail)], "{text}");
    }
}

#[test]
fn brackets_stay_when_the_url_opened_them() {
    assert_eq!(linkify("(see https://example.com/a)"), vec![Text("(see "), Link("https://example.com/a"), Text(")")]);
    assert_eq!(
        linkify("https://en.wikipedia.org/wiki/Rust_(programming_language)."),
        vec![Link("https://en.wikipedia.org/wiki/Rust_(programming_language)"), Text(".")]
    );
    assert_eq!(linkify("[https://example.com/a[1]]"), vec![Text("["), Link("https://example.com/a[1]"), Text("]")]);
    assert_eq!(linkify("https://example.com/a))."), vec![Link("https://example.com/a"), Text("))."),]);
}

#[test]
fn quotes_and_angle_brackets_end_a_link() {
    assert_eq!(linkify("<https://example.com/a>"), vec![Text("<"), Link("https://example.com/a"), Text(">")]);
    assert_eq!(
        linkify("\"https://example.com/a\" said"),
        vec![Text("\""), Link("https://example.com/a"), Text("\" said")]
    );
}

#[test]
fn multi_byte_text_around_and_inside_links() {
    assert_eq!(
        linkify("見てhttps://ja.wikipedia.org/wiki/日本。🌍"),
        vec![Text("見て"), Link("https://ja.wikipedia.org/wiki/日本"), Text("。🌍")]
    );
    assert_eq!(linkify("👋https://例え.jp/ü\u{a0}x"), vec![Text("👋"), Link("https://例え.jp/ü"), Text("\u{a0}x")]);
}

#[test]
fn a_long_run_of_closing_brackets_is_handled_quickly() {
    let text = format!("https://example.com/{}", ")".repeat(200_000));
    let segments = linkify(&text);
    assert_eq!(segments[0], Link("https://example.com/"));
    assert_eq!(segments.len(), 2);
}

/// Text that often contains schemes, brackets, punctuation and multi-byte characters.
fn chatty_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("http://".to_owned()),
        Just("https://".to_owned()),
        Just("HtTp://".to_owned()),
        Just("http:/".to_owned()),
        Just("javascript:".to_owned()),
        Just("example.com".to_owned()),
        Just("/".to_owned()),
        "[().,;:!?'\"<>\\[\\]{} \n\t…。]{1,3}",
        "[a-z0-9]{1,5}",
        "[é日本🌍\u{200B}\u{a0}]{1,2}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn segments_give_the_text_back_and_links_are_only_http(text in chatty_text()) {
        let segments = linkify(&text);
        let joined: String = segments.iter().map(Segment::as_str).collect();
        prop_assert_eq!(&joined, &text);
        for segment in &segments {
            prop_assert!(!segment.as_str().is_empty(), "empty segment in {:?}", segments);
            if let Link(link) = segment {
                let lower = link.to_ascii_lowercase();
                prop_assert!(lower.starts_with("http://") || lower.starts_with("https://"), "{:?}", link);
                prop_assert!(!link.chars().any(char::is_whitespace), "{:?}", link);
            }
        }
        // Neighbouring text segments are merged.
        for pair in segments.windows(2) {
            prop_assert!(!matches!(pair, [Text(_), Text(_)]), "{:?}", segments);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_and_round_trip(text in any::<String>()) {
        let joined: String = linkify(&text).iter().map(Segment::as_str).collect();
        prop_assert_eq!(joined, text);
    }
}
