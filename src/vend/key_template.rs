//! A profile's server-chosen key (`key` in `PROFILES_FILE`): a template under the profile's
//! prefix with `${uuid}`, `${ext}`, `${filename}` and `${date}`, rendered per request from the
//! request's `filename`, a random UUID and the request's instant, each value checked so that
//! the key stays one object under the prefix.

use std::time::SystemTime;

use stsvend_sign::format_iso8601;

use super::prefix::{check_key, check_segment};

/// The longest `filename` a request may send, in bytes.
pub const MAX_FILENAME_BYTES: usize = 255;

/// One piece of a key template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `${uuid}`: a random UUID v4, lower-case hex.
    Uuid,
    /// `${ext}`: the lower-cased extension of `filename` with its dot, or nothing.
    Ext,
    /// `${filename}`: the request's `filename` as sent.
    Filename,
    /// `${date}`: `YYYY/MM/DD`, UTC.
    Date,
}

/// A parsed server-chosen key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    pieces: Vec<Piece>,
}

/// What one rendering takes: a request's `filename`, 16 random bytes, and the instant.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    /// The request's `filename`, when it sent one.
    pub filename: Option<&'a str>,
    /// 16 bytes from a random source, made into a UUID v4.
    pub random: [u8; 16],
    /// The request's instant (`${date}`).
    pub now: SystemTime,
}

impl KeyTemplate {
    /// Parses a key template: literal text and the four placeholders; the template must
    /// render to a key [`check_key`] accepts (no leading `/`, no `.` or `..` segment, no
    /// control or invisible character) and must not be empty.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("is empty".to_owned());
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                pieces.push(Piece::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("{text:?} has an unclosed '${{'"))?;
            pieces.push(match &after[..end] {
                "uuid" => Piece::Uuid,
                "ext" => Piece::Ext,
                "filename" => Piece::Filename,
                "date" => Piece::Date,
                other => {
                    return Err(format!(
                        "${{{other}}} is not ${{uuid}}, ${{ext}}, ${{filename}} or ${{date}}"
                    ));
                }
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        let template = Self { pieces };
        let sample = template.fill("f.x", ".x", &[0; 16], "2026/01/01");
        check_key(&sample).map_err(|reason| format!("{text:?} cannot make a key: {reason}"))?;
        if sample.contains('\\') {
            return Err(format!("{text:?} holds '\\'"));
        }
        Ok(template)
    }

    /// Whether the template holds `${filename}` (so a request must send one).
    pub fn needs_filename(&self) -> bool {
        self.pieces.contains(&Piece::Filename)
    }

    /// The key (under the prefix, which the caller adds) for `parts`. A `filename` must be
    /// one key segment: no `/` or `\`, not `.` or `..`, no control or invisible character,
    /// at most [`MAX_FILENAME_BYTES`]; its extension, lower-cased with its dot, must be letters,
    /// digits and `._@:+=-` ([`check_segment`]). The refusal says why.
    pub fn render(&self, parts: &KeyParts<'_>) -> Result<String, String> {
        let filename = match parts.filename {
            Some(name) => {
                check_filename(name)?;
                name
            }
            None if self.needs_filename() => return Err("filename is required".to_owned()),
            None => "",
        };
        let ext = extension(filename)?;
        let date = format_iso8601(parts.now)[..10].replace('-', "/");
        Ok(self.fill(filename, &ext, &parts.random, &date))
    }

    /// Whether `rest` (a key with its profile's prefix taken off) has the template's shape: its
    /// literal text where the template has it, a lower-case UUID v4 for `${uuid}`, an
    /// extension [`render`](Self::render) could give for `${ext}` (empty, or `.` and one
    /// lower-case segment without `.`), a filename `render` would take for `${filename}`
    /// (one segment) and `YYYY/MM/DD` for `${date}`. record-upload refuses a key of another
    /// shape under a profile whose keys the server chooses (`KeyNotOfProfile`).
    pub fn matches(&self, rest: &str) -> bool {
        shaped(&self.pieces, rest)
    }

    fn fill(&self, filename: &str, ext: &str, random: &[u8; 16], date: &str) -> String {
        let mut out = String::with_capacity(64);
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Uuid => out.push_str(&uuid_v4(random)),
                Piece::Ext => out.push_str(ext),
                Piece::Filename => out.push_str(filename),
                Piece::Date => out.push_str(date),
            }
        }
        out
    }
}

/// Whether `rest` is `pieces` filled in some way [`KeyTemplate::render`] could fill them.
fn shaped(pieces: &[Piece], rest: &str) -> bool {
    let Some((piece, after)) = pieces.split_first() else {
        return rest.is_empty();
    };
    let fixed = |len: usize, ok: fn(&str) -> bool| {
        rest.get(..len)
            .is_some_and(|head| ok(head) && shaped(after, &rest[len..]))
    };
    match piece {
        Piece::Literal(text) => rest
            .strip_prefix(text.as_str())
            .is_some_and(|tail| shaped(after, tail)),
        Piece::Uuid => fixed(36, is_uuid_v4),
        Piece::Date => fixed(10, is_date),
        // Variable lengths: try every split at a character boundary, shortest first.
        Piece::Ext | Piece::Filename => rest
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(rest.len()))
            .any(|end| {
                let value = &rest[..end];
                let fits = match piece {
                    Piece::Ext => is_extension(value),
                    _ => check_filename(value).is_ok() && !value.is_empty(),
                };
                fits && shaped(after, &rest[end..])
            }),
    }
}

/// A lower-case RFC 9562 UUID v4, as [`uuid_v4`] writes it.
fn is_uuid_v4(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            14 => *b == b'4',
            19 => b"89ab".contains(b),
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// `YYYY/MM/DD`.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'/',
            _ => b.is_ascii_digit(),
        })
}

/// What `${ext}` can be: empty, or `.` and a lower-case segment without another `.`.
fn is_extension(text: &str) -> bool {
    text.is_empty()
        || text.strip_prefix('.').is_some_and(|ext| {
            !ext.is_empty()
                && !ext.contains('.')
                && !ext.bytes().any(|b| b.is_ascii_uppercase())
                && check_segment(text).is_ok()
        })
}

/// A `filename` as one key segment.
fn check_filename(name: &str) -> Result<(), String> {
    if name.len() > MAX_FILENAME_BYTES {
        return Err(format!(
            "filename is longer than {MAX_FILENAME_BYTES} bytes"
        ));
    }
    if name.contains('/') || name.contains('\\') {
        return Err("filename holds '/' or '\\'; send the file's own name only".to_owned());
    }
    check_key(name).map_err(|reason| format!("filename cannot be used: {reason}"))
}

/// `${ext}`: the lower-cased text after the last `.` of `filename`, with the dot; empty when
/// there is no extension (no dot, or a dot first or last).
fn extension(filename: &str) -> Result<String, String> {
    let Some((stem, ext)) = filename.rsplit_once('.') else {
        return Ok(String::new());
    };
    if stem.is_empty() || ext.is_empty() {
        return Ok(String::new());
    }
    let ext = format!(".{}", ext.to_ascii_lowercase());
    check_segment(&ext).map_err(|reason| format!("the extension of filename {reason}"))?;
    Ok(ext)
}

/// RFC 9562 UUID version 4 from 16 random bytes: the version nibble 4, the variant bits 10.
fn uuid_v4(random: &[u8; 16]) -> String {
    let mut b = *random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_337_590)
    }

    fn render(template: &str, filename: Option<&str>) -> Result<String, String> {
        KeyTemplate::parse(template)
            .expect("template")
            .render(&KeyParts {
                filename,
                random: [0xff; 16],
                now: now(),
            })
    }

    #[test]
    fn placeholders_render_as_documented() {
        assert_eq!(
            render("${uuid}${ext}", Some("Photo.JPG")).expect("key"),
            "ffffffff-ffff-4fff-bfff-ffffffffffff.jpg"
        );
        assert_eq!(
            render("${date}/${filename}", Some("a b.pdf")).expect("key"),
            "2026/11/22/a b.pdf"
        );
        assert_eq!(render("x${ext}", Some("README")).expect("key"), "x");
        assert_eq!(render("x${ext}", None).expect("key"), "x");
        assert_eq!(render("x${ext}", Some(".bashrc")).expect("key"), "x");
    }

    #[test]
    fn a_hostile_filename_is_refused() {
        for name in [
            "../x.png",
            "a/b.png",
            "a\\b.png",
            "..",
            ".",
            "a\u{202e}gnp.exe",
            "a\u{0}.png",
            "x.png/../y",
            "x.p g",
            "x.p\u{e9}",
            "",
        ] {
            assert!(
                render("${uuid}${ext}-${filename}", Some(name)).is_err(),
                "{name:?}"
            );
        }
        assert!(render("${filename}", None).is_err());
        assert!(render("${uuid}", Some(&"a".repeat(256))).is_err());
    }

    #[test]
    fn keys_are_told_by_the_templates_shape() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png",
                true,
            ),
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d",
                true,
            ),
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.PNG",
                false,
            ),
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.tar.gz",
                false,
            ),
            (
                "${uuid}${ext}",
                "0B5C2A8E-1F3D-4C7A-9E2B-5D6F7A8B9C0D.png",
                false,
            ),
            // version 1, not 4; variant 0xxx.
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-1c7a-9e2b-5d6f7a8b9c0d.png",
                false,
            ),
            (
                "${uuid}${ext}",
                "0b5c2a8e-1f3d-4c7a-7e2b-5d6f7a8b9c0d.png",
                false,
            ),
            ("${uuid}${ext}", "me.png", false),
            (
                "${uuid}${ext}",
                "sub/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png",
                false,
            ),
            ("${uuid}${ext}", "", false),
            ("${date}/${filename}", "2026/11/22/a b.pdf", true),
            ("${date}/${filename}", "2026/11/22/a/b.pdf", false),
            ("${date}/${filename}", "2026-11-22/a.pdf", false),
            ("${date}/${filename}", "2026/11/22/", false),
            ("x${ext}", "x", true),
            ("x${ext}", "x.jpg", true),
            ("x${ext}", "y.jpg", false),
        ];
        for (template, rest, expected) in cases {
            let template = KeyTemplate::parse(template).expect("template");
            assert_eq!(template.matches(rest), *expected, "{rest:?}");
        }
    }

    #[test]
    fn every_rendered_key_has_its_templates_shape() {
        for template in [
            "${uuid}${ext}",
            "${date}/${uuid}-${filename}",
            "a${ext}${ext}",
        ] {
            for name in ["Photo.JPG", "a b.pdf", "README", ".bashrc", "x.y.Z"] {
                let key = render(template, Some(name)).expect("key");
                let parsed = KeyTemplate::parse(template).expect("template");
                assert!(parsed.matches(&key), "{template} {key:?}");
            }
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "",
            "${name}",
            "${uuid",
            "/${uuid}",
            "../${uuid}",
            "a//${uuid}",
            "${uuid}\u{200b}",
        ] {
            assert!(KeyTemplate::parse(bad).is_err(), "{bad:?}");
        }
        assert!(KeyTemplate::parse("avatars/${date}/${uuid}${ext}").is_ok());
    }
}
