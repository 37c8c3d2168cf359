//! The caller's object prefix: the `OBJECT_PREFIX` template, rendered per caller.
//!
//! Everything a token or URL can reach lies under this prefix, so the template is held to
//! rules that keep two callers' prefixes apart:
//!
//! - it is empty (the whole bucket) or ends with `/`, so `uploads/al/` never covers
//!   `uploads/alice/`;
//! - a placeholder (`${sub}`, `${claim.NAME}`) fills a whole path segment, so distinct
//!   callers give distinct segments;
//! - literal segments are non-empty, not `.` or `..`, and hold no `*`, `?`, `$` or control
//!   character (they end up inside policy resources);
//! - a caller's value must be a safe path segment ([`check_segment`]); otherwise the request
//!   is refused, never escaped.

use std::collections::BTreeMap;

use crate::Error;
use crate::caller::Caller;

/// The default `OBJECT_PREFIX`.
pub const DEFAULT_PREFIX: &str = "uploads/${sub}/";

/// The longest value a placeholder segment may take, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Sub,
    Claim(String),
}

impl Segment {
    /// One `/`-separated segment of `template`: a whole placeholder or a literal that can
    /// stand in a policy resource; otherwise why not.
    fn parse(segment: &str, template: &str) -> Result<Self, String> {
        let claim = segment
            .strip_prefix("${claim.")
            .and_then(|rest| rest.strip_suffix('}'))
            .filter(|name| is_claim_name(name));
        if let Some(name) = claim {
            return Ok(Segment::Claim(name.to_owned()));
        }
        Ok(match segment {
            "${sub}" => Segment::Sub,
            "" => {
                return Err(format!(
                    "{template:?} has an empty segment (a leading or doubled '/')"
                ));
            }
            "." | ".." => return Err(format!("{template:?} has a {segment:?} segment")),
            _ if segment.contains("${") => {
                return Err(format!(
                    "{segment:?}: a placeholder must be a whole segment: ${{sub}} or ${{claim.NAME}}"
                ));
            }
            _ if segment.contains(['*', '?', '$']) || segment.contains(char::is_control) => {
                return Err(format!(
                    "{segment:?} holds '*', '?', '$' or a control character"
                ));
            }
            literal => Segment::Literal(literal.to_owned()),
        })
    }
}

/// A parsed `OBJECT_PREFIX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixTemplate {
    segments: Vec<Segment>,
}

impl PrefixTemplate {
    /// Parses and checks a prefix template.
    pub fn parse(template: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Config {
            variable: "OBJECT_PREFIX",
            reason,
        };
        if template.is_empty() {
            return Ok(Self {
                segments: Vec::new(),
            });
        }
        let Some(body) = template.strip_suffix('/') else {
            return Err(bad(format!("{template:?} must end with '/'")));
        };
        let segments = body
            .split('/')
            .map(|segment| Segment::parse(segment, template))
            .collect::<Result<_, _>>()
            .map_err(bad)?;
        Ok(Self { segments })
    }

    /// Whether the prefix differs between callers.
    pub fn is_per_caller(&self) -> bool {
        self.segments
            .iter()
            .any(|s| !matches!(s, Segment::Literal(_)))
    }

    /// The literal segments before the first placeholder, each with its `/` (`uploads/` of
    /// `uploads/${sub}/`; the whole prefix when it has no placeholder): what every caller's
    /// prefix starts with, for listing them all.
    pub fn literal_prefix(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    out.push_str(literal);
                    out.push('/');
                }
                _ => break,
            }
        }
        out
    }

    /// Whether the prefix uses `${sub}`.
    pub fn uses_sub(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Sub))
    }

    /// The claims (`${claim.NAME}`) the prefix uses.
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Claim(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The prefix for `caller`.
    pub fn render(&self, caller: &Caller) -> Result<String, Error> {
        let mut out = String::with_capacity(64);
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Sub => out.push_str(caller_value(caller, "sub")?),
                Segment::Claim(name) => out.push_str(caller_value(caller, name)?),
            }
            out.push('/');
        }
        Ok(out)
    }

    /// Who may have written `key`: the values of the template's placeholders (`sub`, and each
    /// claim by its name) when `key` lies under the prefix they render, and `None` when it lies
    /// under no caller's prefix. The prefix's segments are whole placeholders, so one key has
    /// one reading; the same placeholder twice must have one value.
    pub fn attribute(&self, key: &str) -> Option<BTreeMap<String, String>> {
        let mut parts = key.split('/');
        let mut values = BTreeMap::new();
        let mut prefix_len = 0;
        for segment in &self.segments {
            let part = parts.next()?;
            prefix_len += part.len() + 1;
            let name = match segment {
                Segment::Literal(literal) if literal == part => continue,
                Segment::Literal(_) => return None,
                Segment::Sub => "sub",
                Segment::Claim(name) => name.as_str(),
            };
            check_segment(part).ok()?;
            if values
                .insert(name.to_owned(), part.to_owned())
                .is_some_and(|v| v != part)
            {
                return None;
            }
        }
        // Something must follow the prefix: the prefix itself is no object of the caller's.
        (key.len() > prefix_len).then_some(values)
    }
}

/// A claim name as `${claim.NAME}` may write it: letters, digits and `_:.-`.
pub(super) fn is_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
}

/// The caller's `sub` (for `"sub"`) or claim `name`, when it is a safe path segment.
pub(super) fn caller_value<'a>(caller: &'a Caller, name: &str) -> Result<&'a str, Error> {
    let value = if name == "sub" {
        Some(caller.sub.as_str())
    } else {
        caller.claims.get(name).map(String::as_str)
    };
    let unsafe_identity = |reason| Error::UnsafeIdentity {
        claim: name.to_owned(),
        reason,
    };
    let value = value.ok_or_else(|| unsafe_identity("the caller has no such claim"))?;
    check_segment(value).map_err(unsafe_identity)?;
    Ok(value)
}

/// Checks that an identity value can stand as one path segment of a prefix: letters,
/// digits and `._@:+=-`, 1 to [`MAX_SEGMENT_BYTES`] bytes, and not `.` or `..`.
pub fn check_segment(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("it is empty");
    }
    if value.len() > MAX_SEGMENT_BYTES {
        return Err("it is longer than 128 bytes");
    }
    if value == "." || value == ".." {
        return Err("it is a relative path segment");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._@:+=-".contains(&b))
    {
        return Err("it holds a character outside letters, digits and ._@:+=-");
    }
    Ok(())
}

/// The longest object key OSS accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1023;

/// Checks that `key` is an object key stsvend will sign: not empty, at most
/// [`MAX_KEY_BYTES`] bytes, not starting with `/`, without `.` or `..` segments (HTTP clients
/// would rewrite the path) and without control characters.
pub fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("it is empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err("it is longer than 1023 bytes");
    }
    if key.starts_with('/') {
        return Err("it starts with '/'");
    }
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("it has a '.' or '..' segment");
    }
    // An empty segment but the last (`dir/` names a folder marker): proxies and CDNs that
    // merge slashes would serve `a//b` as `a/b`, another object.
    if key.contains("//") {
        return Err("it has an empty segment ('//')");
    }
    if key.chars().any(char::is_control) {
        return Err("it holds a control character");
    }
    if hides_characters(key) {
        return Err(
            "it holds an invisible or blank-looking character (a bidi override, a zero-width character, a filler)",
        );
    }
    Ok(())
}

/// Whether `text` holds an invisible format character ([`is_invisible`]) other than those that
/// join visible characters, as writing systems and emoji need them: a zero-width joiner or
/// non-joiner (U+200D, U+200C: Persian and Indic words, emoji sequences such as 👨‍👩‍👧)
/// between two visible characters, and the tag characters that follow U+1F3F4 in a
/// subdivision flag (🏴 + U+E0067 … + U+E007F).
pub fn hides_characters(text: &str) -> bool {
    // Every character the checks below look for is outside ASCII, so ASCII text (most keys
    // and header values) has the same verdict without the walk.
    if text.is_ascii() {
        return false;
    }
    hides_characters_walk(text)
}

/// [`hides_characters`] by walking every character with its neighbours.
fn hides_characters_walk(text: &str) -> bool {
    let visible = |c: Option<char>| {
        c.is_some_and(|c| !c.is_control() && !c.is_whitespace() && !is_invisible(c))
    };
    let is_tag = |c: Option<char>| c.is_some_and(|c| ('\u{E0020}'..='\u{E007E}').contains(&c));
    // Each character with its neighbours, without collecting the text (keys and header
    // values are checked on every request).
    let prevs = std::iter::once(None).chain(text.chars().map(Some));
    let nexts = text.chars().skip(1).map(Some).chain(std::iter::once(None));
    text.chars()
        .zip(prevs)
        .zip(nexts)
        .any(|((c, prev), next)| match c {
            '\u{200C}' | '\u{200D}' => !(visible(prev) && visible(next)),
            '\u{E0020}'..='\u{E007E}' => !(prev == Some('\u{1F3F4}') || is_tag(prev)),
            '\u{E007F}' => !is_tag(prev),
            c if is_variation_selector(c) => !takes_variation_selector(prev, c, next),
            // Mongolian free variation selectors select a glyph after a Mongolian letter only.
            '\u{180B}'..='\u{180D}' | '\u{180F}' => {
                !prev.is_some_and(|p| ('\u{1820}'..='\u{18AA}').contains(&p))
            }
            other => is_invisible(other) || is_blank_looking(other),
        })
}

/// Whether `c` is a variation selector: VS1–VS16 (U+FE00–U+FE0F) or an ideographic one
/// (U+E0100–U+E01EF). Alone it shows nothing; after the right character it picks a glyph.
pub fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Whether variation selector `selector` after `base` (and before `next`) selects a glyph, as
/// in a sequence Unicode defines, rather than hiding in the text: U+FE0E / U+FE0F (text or
/// emoji presentation) after an emoji or symbol (☺️, ❤️, ©️), or after `0`–`9`, `#` or `*`
/// that a keycap U+20E3 follows (1️⃣); U+FE00–U+FE0D after a mathematical symbol or a CJK
/// ideograph; an ideographic variation selector (U+E0100–U+E01EF) after a CJK ideograph. A
/// selector anywhere else (`photo\u{FE0F}.jpg`, a second one in a row) is invisible.
///
/// # Reference
/// Unicode 15.1, `emoji-variation-sequences.txt`, `StandardizedVariants.txt` and the
/// Ideographic Variation Database (ranges, not every listed base).
fn takes_variation_selector(base: Option<char>, selector: char, next: Option<char>) -> bool {
    let Some(base) = base else {
        return false;
    };
    let cjk = matches!(base, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}');
    match selector {
        '\u{FE0E}' | '\u{FE0F}' => {
            let keycap = matches!(base, '0'..='9' | '#' | '*') && next == Some('\u{20E3}');
            let emoji = matches!(base, '\u{A9}' | '\u{AE}' | '\u{203C}' | '\u{2049}' | '\u{2122}' | '\u{2139}' | '\u{2194}'..='\u{21AA}' | '\u{2300}'..='\u{23FF}' | '\u{24C2}' | '\u{25A0}'..='\u{27BF}' | '\u{2900}'..='\u{297F}' | '\u{2B00}'..='\u{2BFF}' | '\u{3030}' | '\u{303D}' | '\u{3297}' | '\u{3299}' | '\u{1F000}'..='\u{1FAFF}');
            keycap || emoji
        }
        '\u{FE00}'..='\u{FE0D}' => {
            cjk || matches!(base, '\u{2200}'..='\u{22FF}' | '\u{2A00}'..='\u{2AFF}')
        }
        _ => cjk,
    }
}

/// Whether `c` looks like nothing at all although it is no space and no format character
/// ([`is_invisible`]): the default-ignorable code points outside Cf (the Hangul fillers
/// U+115F, U+1160, U+3164, U+FFA0; the combining grapheme joiner U+034F; the Khmer inherent
/// vowels U+17B4, U+17B5; the Mongolian free variation selectors U+180B–U+180D, U+180F; the
/// unassigned U+2065, U+FFF0–U+FFF8 and the rest of plane 14 outside the tags and variation
/// selectors), and the blank braille pattern U+2800. Unicode asks that all of them be drawn as
/// nothing, so `photo\u{3164}.jpg` shows as `photo.jpg`.
///
/// # Reference
/// Unicode 15.1, `DerivedCoreProperties.txt` (`Default_Ignorable_Code_Point`) and the braille
/// block (U+2800, BRAILLE PATTERN BLANK).
pub fn is_blank_looking(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{2065}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{E0000}'
            | '\u{E0002}'..='\u{E001F}'
            | '\u{E0080}'..='\u{E00FF}'
            | '\u{E01F0}'..='\u{E0FFF}'
    )
}

/// Whether `c` is a Unicode format character (general category Cf: bidi embeddings,
/// overrides and isolates such as U+202E, zero-width characters, the BOM, interlinear
/// annotation, tags) or a line or paragraph separator (U+2028, U+2029). They render as
/// nothing or reorder what is shown, so `invoice\u{202E}gpj.exe` reads as `invoiceexe.jpg`.
///
/// # Reference
/// Unicode 15.1, `DerivedGeneralCategory.txt`, the `Cf` ranges; `Zl` and `Zp`.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_ascii_fast_path_gives_the_walks_verdict_on_every_short_ascii_text() {
        for a in 0u8..128 {
            for b in 0u8..128 {
                let text = String::from_utf8(vec![a, b, b'x', a]).expect("ascii");
                assert!(!hides_characters_walk(&text), "{text:?}");
                assert_eq!(hides_characters(&text), hides_characters_walk(&text));
            }
        }
        let table = [
            "",
            "photo 1.jpg",
            "uploads/a/b.txt",
            "a\u{200D}b",
            "a\u{200D}",
            "\u{202E}gpj.exe",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E007F}",
            "\u{E007F}",
            "photo\u{FE0F}.jpg",
            "\u{2764}\u{FE0F}",
            "1\u{FE0F}\u{20E3}",
            "\u{1820}\u{180B}",
            "\u{180B}",
            "\u{3164}",
            "中文.txt",
            "é",
            "\u{00AD}",
        ];
        for text in table {
            assert_eq!(
                hides_characters(text),
                hides_characters_walk(text),
                "{text:?}"
            );
        }
    }

    /// Characters the rules name, their neighbours, and plain ones.
    fn rule_characters() -> impl Strategy<Value = char> {
        prop_oneof![
            any::<char>(),
            proptest::char::range(' ', '~'),
            proptest::sample::select(vec![
                '\u{200C}',
                '\u{200D}',
                '\u{E0020}',
                '\u{E0067}',
                '\u{E007E}',
                '\u{E007F}',
                '\u{1F3F4}',
                '\u{FE00}',
                '\u{FE0E}',
                '\u{FE0F}',
                '\u{E0100}',
                '\u{20E3}',
                '\u{2764}',
                '\u{4E2D}',
                '\u{2200}',
                '\u{180B}',
                '\u{180F}',
                '\u{1820}',
                '\u{202E}',
                '\u{00AD}',
                '\u{3164}',
                '\u{2800}',
                '\u{1F600}',
                '\n',
                '\t',
                '0',
                '#',
                '*',
            ]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn the_ascii_fast_path_gives_the_walks_verdict(
            chars in proptest::collection::vec(rule_characters(), 0..16)
        ) {
            let text: String = chars.into_iter().collect();
            prop_assert_eq!(hides_characters(&text), hides_characters_walk(&text));
        }
    }

    #[test]
    fn keys_are_attributed_to_the_caller_whose_prefix_holds_them() {
        let template = PrefixTemplate::parse("tenants/${claim.tenant}/users/${sub}/").expect("t");
        let values = template
            .attribute("tenants/acme/users/alice/photos/a b.jpg")
            .expect("attributed");
        assert_eq!(values.get("sub").map(String::as_str), Some("alice"));
        assert_eq!(values.get("tenant").map(String::as_str), Some("acme"));
        let mut caller = Caller::with_sub("alice");
        caller.claims.insert("tenant".into(), "acme".into());
        assert!(
            "tenants/acme/users/alice/photos/a b.jpg"
                .starts_with(&template.render(&caller).expect("render"))
        );
        for outside in [
            "tenants/acme/users/alice/",
            "tenants/acme/users/alice",
            "tenants/acme/people/alice/a.jpg",
            "tenants/acme/users/../a.jpg",
            "tenants/ac me/users/alice/a.jpg",
            "other/acme/users/alice/a.jpg",
            "",
        ] {
            assert_eq!(template.attribute(outside), None, "{outside:?}");
        }
        let twice = PrefixTemplate::parse("${sub}/x/${sub}/").expect("t");
        assert!(twice.attribute("a/x/a/k").is_some());
        assert_eq!(twice.attribute("a/x/b/k"), None);
        let whole = PrefixTemplate::parse("").expect("t");
        assert_eq!(whole.attribute("k").map(|v| v.len()), Some(0));
    }

    #[test]
    fn default_template_gives_each_caller_a_folder() {
        let t = PrefixTemplate::parse(DEFAULT_PREFIX).expect("parse");
        assert!(t.is_per_caller());
        assert_eq!(
            t.render(&Caller::with_sub("alice")).expect("render"),
            "uploads/alice/"
        );
        assert_eq!(
            t.render(&Caller::with_sub(
                "us-east-1:7b6c9f1e-0000-4bd5-9ad3-5b8ea2e2c2a1"
            ))
            .expect("render"),
            "uploads/us-east-1:7b6c9f1e-0000-4bd5-9ad3-5b8ea2e2c2a1/"
        );
    }

    #[test]
    fn templates_that_could_mix_callers_are_refused() {
        for bad in [
            "uploads/${sub}",
            "uploads/${sub}-x/",
            "/uploads/${sub}/",
            "uploads//${sub}/",
            "uploads/../${sub}/",
            "uploads/*/",
            "up$loads/",
            "uploads/${claim.}/",
            "uploads/${claim.a/b}/",
            "uploads/x${claim.tenant}/",
            "uploads/${sub}/\n/",
        ] {
            assert!(
                PrefixTemplate::parse(bad).is_err(),
                "{bad:?} must be refused"
            );
        }
        assert_eq!(
            PrefixTemplate::parse("")
                .expect("whole bucket")
                .render(&Caller::with_sub("x"))
                .expect("render"),
            ""
        );
        assert_eq!(
            PrefixTemplate::parse("shared/")
                .expect("fixed")
                .render(&Caller::with_sub("x"))
                .expect("render"),
            "shared/"
        );
    }

    #[test]
    fn unsafe_identities_are_refused_not_escaped() {
        let t = PrefixTemplate::parse(DEFAULT_PREFIX).expect("parse");
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../bob",
            "a*",
            "a?",
            "$x",
            "a b",
            "a\"b",
            "a\\b",
            "a%2Fb",
            "a\u{0}b",
            "ａlice",
            "alice\u{2215}bob",
            "auth0|123",
        ] {
            match t.render(&Caller::with_sub(bad)) {
                Err(Error::UnsafeIdentity { claim, .. }) => assert_eq!(claim, "sub"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(
            t.render(&Caller::with_sub("a".repeat(MAX_SEGMENT_BYTES)))
                .is_ok()
        );
        assert!(
            t.render(&Caller::with_sub("a".repeat(MAX_SEGMENT_BYTES + 1)))
                .is_err()
        );
    }

    #[test]
    fn claims_fill_their_own_segments() {
        let t =
            PrefixTemplate::parse("tenants/${claim.custom:tenant}/users/${sub}/").expect("parse");
        assert_eq!(t.claim_names().collect::<Vec<_>>(), ["custom:tenant"]);
        let mut caller = Caller::with_sub("alice");
        assert!(
            matches!(t.render(&caller), Err(Error::UnsafeIdentity { .. })),
            "no such claim"
        );
        caller
            .claims
            .insert("custom:tenant".to_owned(), "acme".to_owned());
        assert_eq!(
            t.render(&caller).expect("render"),
            "tenants/acme/users/alice/"
        );
        for bad in ["", "*", "a/b", "..", "%2F", "a\"b"] {
            caller
                .claims
                .insert("custom:tenant".to_owned(), bad.to_owned());
            assert!(
                matches!(t.render(&caller), Err(Error::UnsafeIdentity { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys_users_type_are_accepted_and_path_tricks_refused() {
        let long = format!("u/{}", "k".repeat(MAX_KEY_BYTES - 2));
        for good in [
            "a",
            "a b+c%20~*!'()",
            "中文/😀.png",
            // Joiners between visible characters, and a subdivision flag, as people write them.
            "\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}.pdf",
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}.jpg",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}.png",
            "dir/",
            "..a/b..",
            "a.b/.c",
            long.as_str(),
            // Variation selectors where Unicode defines a sequence: ❤️, a keycap 1️⃣, ∩︀, 葛󠄀.
            "\u{2764}\u{FE0F}.png",
            "\u{31}\u{FE0F}\u{20E3}.png",
            "\u{2229}\u{FE00}",
            "\u{845B}\u{E0100}.txt",
            // A Mongolian letter with its free variation selector.
            "\u{1820}\u{180B}.txt",
        ] {
            assert_eq!(check_key(good), Ok(()), "{good:?}");
        }
        let too_long = format!("u/{}", "k".repeat(MAX_KEY_BYTES - 1));
        for bad in [
            "",
            "/a",
            "a/../b",
            "a/./b",
            "..",
            "a/..",
            "./a",
            "a\nb",
            "a\u{7f}",
            "a\u{85}b",
            "invoice\u{202E}gpj.exe",
            "a\u{200B}b",
            "\u{200D}a",
            "a\u{200C}",
            "a \u{200D} b",
            "a\u{200D}\u{200D}b",
            "\u{FEFF}a",
            "a\u{2028}b",
            "a\u{2066}b\u{2069}",
            "a\u{AD}b",
            "tag\u{E0041}",
            "\u{1F3F4}\u{E007F}",
            too_long.as_str(),
            "a//b",
            "uploads/alice//x.jpg",
            // Blank-looking: the Hangul fillers, the combining grapheme joiner, braille blank.
            "photo\u{115F}.jpg",
            "photo\u{1160}.jpg",
            "photo\u{3164}.jpg",
            "photo\u{FFA0}.jpg",
            "photo\u{34F}.jpg",
            "\u{2800}",
            // Variation selectors outside the sequences that select a glyph.
            "photo\u{FE0F}.jpg",
            "\u{FE0F}a",
            "\u{2764}\u{FE0F}\u{FE0F}",
            "\u{31}\u{FE0F}.png",
            "a\u{FE00}",
            "a\u{E0100}",
            // The rest of Default_Ignorable_Code_Point.
            "invoice\u{2065}.pdf",
            "a\u{180B}b",
            "a\u{180F}b",
            "a\u{17B4}b",
            "a\u{FFF0}b",
            "a\u{E0000}b",
            "a\u{E0080}b",
            "a\u{E0FFF}b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
