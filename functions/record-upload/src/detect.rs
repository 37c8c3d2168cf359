//! The real type of an upload's content, from its first bytes (`detect_type`): the `infer`
//! crate's magic numbers, and a sniff for markup a browser would run (HTML, SVG, a script),
//! which magic numbers do not find.
//!
//! What an uploader says (`Content-Type`, the key's extension) is not evidence: a page of
//! HTML named `a.png` and sent as `image/png` is stored as `image/png`, but a browser that
//! sniffs, or an app that serves it under another type, runs it. So a profile with
//! `detect_type` judges the bytes.

use crate::rules::TypePattern;

/// How many bytes record-upload reads from the start of an object (`Range: bytes=0-8191`).
pub(crate) const SNIFF_BYTES: u64 = 8192;

/// What the first bytes of an object are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// A type a magic number identifies (`image/png`, `application/pdf`, ...).
    Known(&'static str),
    /// Markup a browser runs: `text/html` (a page or a bare `<script>`) or `image/svg+xml`.
    Markup(&'static str),
    /// Neither: text, or a binary format without a signature.
    Unidentified,
}

impl Content {
    /// The type, for records and logs (`Unidentified` has none).
    pub(crate) fn media_type(self) -> Option<&'static str> {
        match self {
            Self::Known(t) | Self::Markup(t) => Some(t),
            Self::Unidentified => None,
        }
    }
}

/// The content of `head` (the object's first bytes): markup first, so that a polyglot (a
/// GIF header followed by `<script>`) is not let through as an image... see [`markup`] for
/// where it looks.
pub(crate) fn detect(head: &[u8]) -> Content {
    if let Some(markup) = markup(head) {
        return Content::Markup(markup);
    }
    match infer::get(head) {
        // infer reads `<?xml` and `<html` too; markup() has already said what markup is.
        Some(kind) if kind.mime_type() == "text/xml" || kind.mime_type() == "text/html" => {
            Content::Unidentified
        }
        Some(kind) => Content::Known(kind.mime_type()),
        None => Content::Unidentified,
    }
}

/// Whether content detected as `content` is of a type `allowed` lets in.
///
/// - A known type must match a pattern (`image/*` holds `image/png`).
/// - Markup must be named exactly (`text/html`, `image/svg+xml`) or by `*/*`: `image/*` does
///   not let an SVG in, nor `text/*` a page, since a browser runs their scripts.
/// - Unidentified content (text, or bytes no signature names) is let in only by a pattern
///   that can hold such content: `*/*`, `application/octet-stream` or a `text/*` type other
///   than HTML. An image, audio or video profile has a magic number for every type it
///   allows, so bytes without one are not of its types.
pub(crate) fn of_allowed_type(content: Content, allowed: &[TypePattern]) -> bool {
    match content {
        Content::Known(media_type) => allowed.iter().any(|p| p.holds(media_type)),
        Content::Markup(media_type) => allowed.iter().any(|p| p.names_exactly(media_type)),
        Content::Unidentified => allowed.iter().any(TypePattern::holds_unidentified),
    }
}

/// The markup at the start of `head`, after an optional UTF-8 BOM and whitespace (and, for
/// SVG, an XML declaration, comments and a doctype): `text/html` for `<!doctype html`,
/// `<html`, `<head`, `<body`, `<script`, `<iframe` or `<meta`; `image/svg+xml` for `<svg`. Case
/// does not matter. Also `<svg`, `<script` or `<html` anywhere in the bytes read, when they
/// are text: a browser sniffing a document finds them there too.
fn markup(head: &[u8]) -> Option<&'static str> {
    const HTML_TAGS: [&[u8]; 7] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<script",
        b"<iframe",
        b"<meta",
    ];
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[start..];
    let lower: Vec<u8> = text.iter().map(u8::to_ascii_lowercase).collect();
    if HTML_TAGS.iter().any(|tag| lower.starts_with(tag)) {
        return Some("text/html");
    }
    if lower.starts_with(b"<svg") {
        return Some("image/svg+xml");
    }
    // Anything else starting with `<` (`<?xml`, `<!--`, `<!DOCTYPE svg`), or text with no
    // NUL byte (which binary formats have early): look for the tags anywhere.
    let texty = lower.starts_with(b"<") || !lower.contains(&0);
    if texty {
        if contains(&lower, b"<svg") {
            return Some("image/svg+xml");
        }
        if HTML_TAGS.iter().any(|tag| contains(&lower, tag)) {
            return Some("text/html");
        }
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first bytes of real files, as each format's specification writes its signature.
    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj";
    const MP4: &[u8] = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";

    fn images() -> Vec<TypePattern> {
        ["image/png", "image/jpeg", "image/webp"]
            .iter()
            .map(|t| TypePattern::parse(t).expect("pattern"))
            .collect()
    }

    #[test]
    fn real_magic_numbers_are_known() {
        let cases: &[(&[u8], &str)] = &[
            (PNG, "image/png"),
            (JPEG, "image/jpeg"),
            (WEBP, "image/webp"),
            (PDF, "application/pdf"),
            (MP4, "video/mp4"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(detect(bytes), Content::Known(expected), "{expected}");
        }
    }

    #[test]
    fn markup_is_found_however_it_is_dressed() {
        let cases: &[(&[u8], &str)] = &[
            (b"<!DOCTYPE html><html><body>hi", "text/html"),
            (b"\xef\xbb\xbf  \r\n\t<HtMl>", "text/html"),
            (b"<script>alert(1)</script>", "text/html"),
            (b"  <ScRiPt src=//evil.example/x.js></script>", "text/html"),
            (
                b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
                "image/svg+xml",
            ),
            (
                b"<?xml version=\"1.0\"?>\n<!-- c -->\n<SVG>",
                "image/svg+xml",
            ),
            (b"hello\n<script>alert(1)</script>", "text/html"),
            (b"GIF89a<script>alert(1)</script>", "text/html"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                detect(bytes),
                Content::Markup(expected),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn an_image_profile_takes_images_of_its_types_only() {
        let allowed = images();
        let cases: &[(&[u8], bool)] = &[
            (PNG, true),
            (JPEG, true),
            (WEBP, true),
            (PDF, false),
            (MP4, false),
            (b"<html><body>not a png", false),
            (b"<svg/onload=alert(1)>", false),
            (b"<script>alert(1)</script>", false),
            (b"just some text", false),
            (b"", false),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                of_allowed_type(detect(bytes), &allowed),
                *expected,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn wildcards_hold_known_types_but_not_markup() {
        let images = [TypePattern::parse("image/*").expect("pattern")];
        assert!(of_allowed_type(detect(PNG), &images));
        assert!(!of_allowed_type(detect(b"<svg></svg>"), &images));
        let svg = [TypePattern::parse("image/svg+xml").expect("pattern")];
        assert!(of_allowed_type(detect(b"<svg></svg>"), &svg));
        let text = [TypePattern::parse("text/plain").expect("pattern")];
        assert!(of_allowed_type(detect(b"just some text"), &text));
        assert!(!of_allowed_type(detect(b"<html>"), &text));
        let any = [TypePattern::parse("*/*").expect("pattern")];
        assert!(of_allowed_type(detect(b"\x00\x01binary"), &any));
        assert!(of_allowed_type(detect(b"<html>"), &any));
    }
}
