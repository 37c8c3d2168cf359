//! What is stamped on every upload a caller makes: user metadata and tags
//! (`UPLOAD_METADATA`, `UPLOAD_TAGGING`), their values rendered per caller from the same
//! placeholders as `OBJECT_PREFIX` (`${sub}`, `${claim.NAME}`), and the server-side
//! encryption every upload must ask for (`UPLOAD_SERVER_SIDE_ENCRYPTION`).

use crate::Error;
use crate::caller::Caller;
use crate::vend::prefix::{caller_value, is_claim_name};

/// One piece of a stamped value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Sub,
    Claim(String),
}

/// A value with placeholders, rendered per caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueTemplate(Vec<Piece>);

impl ValueTemplate {
    /// Parses `text`: literal text (printable ASCII, no `,`, `=` or `$` outside a
    /// placeholder) and `${sub}` or `${claim.NAME}` placeholders.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad_text = |literal: &str| {
            literal
                .bytes()
                .any(|b| !(0x20..0x7f).contains(&b) || b",=$".contains(&b))
        };
        let mut pieces = Vec::new();
        let mut rest = text;
        loop {
            let (literal, placeholder) = match rest.split_once("${") {
                Some((literal, after)) => (literal, Some(after)),
                None => (rest, None),
            };
            if bad_text(literal) {
                return Err(format!(
                    "{text:?}: text must be printable ASCII without ',', '=' or '$'"
                ));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(literal.to_owned()));
            }
            let Some(after) = placeholder else {
                return Ok(Self(pieces));
            };
            let (name, tail) = after
                .split_once('}')
                .ok_or_else(|| format!("{text:?}: an unclosed ${{"))?;
            pieces.push(match name.strip_prefix("claim.") {
                None if name == "sub" => Piece::Sub,
                Some(claim) if is_claim_name(claim) => Piece::Claim(claim.to_owned()),
                _ => {
                    return Err(format!(
                        "{text:?}: ${{{name}}} is not ${{sub}} or ${{claim.NAME}}"
                    ));
                }
            });
            rest = tail;
        }
    }

    /// The value for `caller`; a caller value that is not a safe segment is refused, as in a
    /// prefix.
    pub fn render(&self, caller: &Caller) -> Result<String, Error> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Sub => out.push_str(caller_value(caller, "sub")?),
                Piece::Claim(name) => out.push_str(caller_value(caller, name)?),
            }
        }
        Ok(out)
    }

    /// The placeholders it names, in order: `sub`, or a claim's name.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|piece| match piece {
            Piece::Text(_) => None,
            Piece::Sub => Some("sub"),
            Piece::Claim(name) => Some(name.as_str()),
        })
    }

    /// The longest value any caller can give it, in bytes (a placeholder is at most
    /// [`MAX_SEGMENT_BYTES`](crate::vend::prefix::MAX_SEGMENT_BYTES)).
    pub fn max_len(&self) -> usize {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.len(),
                Piece::Sub | Piece::Claim(_) => crate::vend::prefix::MAX_SEGMENT_BYTES,
            })
            .sum()
    }
}

/// One stamped entry: a metadata name or a tag key, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The metadata name (lower case) or tag key.
    pub name: String,
    /// Its value per caller.
    pub value: ValueTemplate,
}

/// A metadata name as both stores keep it: lower-case letters, digits and `-`, 1 to 64 bytes.
pub fn is_metadata_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A tag key both stores accept: letters, digits and `_.:/@+-`, 1 to 128 bytes.
pub fn is_tag_key(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:/@+-".contains(&b))
}

/// A comma list of `name=value` entries whose names `valid` accepts.
pub fn parse_stamps(list: &str, valid: fn(&str) -> bool) -> Result<Vec<Stamp>, String> {
    let mut stamps: Vec<Stamp> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, value) = entry
            .split_once('=')
            .ok_or_else(|| format!("{entry:?} is not name=value"))?;
        let name = name.trim();
        if !valid(name) {
            return Err(format!("{name:?} is not a name the stores accept"));
        }
        if stamps.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
            return Err(format!("{name:?} is named twice"));
        }
        stamps.push(Stamp {
            name: name.to_owned(),
            value: ValueTemplate::parse(value.trim())?,
        });
    }
    Ok(stamps)
}

/// The server-side encryption every upload asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// `AES256`: keys the store manages.
    Aes256,
    /// `KMS`, with a key id, or the store's default KMS key.
    Kms(Option<String>),
}

impl Encryption {
    /// `AES256`, `KMS` or `KMS:<key-id>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "AES256" => Ok(Self::Aes256),
            None if text == "KMS" => Ok(Self::Kms(None)),
            Some(("KMS", id))
                if !id.is_empty()
                    && id.len() <= 2048
                    && id.bytes().all(|b| b.is_ascii_graphic() && b != b',') =>
            {
                Ok(Self::Kms(Some(id.to_owned())))
            }
            _ => Err(format!("{text:?} is not AES256, KMS or KMS:<key-id>")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_values_render_per_caller_and_refuse_unsafe_values() {
        let template = ValueTemplate::parse("app-${claim.tenant}/${sub}").expect("template");
        let mut alice = Caller::with_sub("alice");
        alice.claims.insert("tenant".into(), "acme".into());
        assert_eq!(template.render(&alice).expect("render"), "app-acme/alice");
        assert!(
            template.render(&Caller::with_sub("bob")).is_err(),
            "no tenant claim"
        );
        assert!(
            ValueTemplate::parse("${sub}")
                .expect("t")
                .render(&Caller::with_sub("a b"))
                .is_err()
        );
        assert_eq!(template.max_len(), 4 + 1 + 2 * 128);
        for bad in ["${user}", "a,b", "${sub", "caf\u{e9}", "x=y", "$x"] {
            assert!(ValueTemplate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stamp_lists_name_each_entry_once_with_names_the_stores_accept() {
        let stamps = parse_stamps("uploader=${sub}, app=web", is_metadata_name).expect("stamps");
        assert_eq!(stamps.len(), 2);
        assert_eq!(stamps[1].name, "app");
        assert!(
            parse_stamps("Uploader=${sub}", is_metadata_name).is_err(),
            "upper case"
        );
        assert!(parse_stamps("a=1,a=2", is_metadata_name).is_err(), "twice");
        assert!(parse_stamps("a", is_metadata_name).is_err(), "no value");
        assert!(parse_stamps("Project=x", is_tag_key).is_ok());
        assert_eq!(parse_stamps("", is_tag_key).expect("empty"), Vec::new());
    }

    #[test]
    fn encryption_is_aes256_or_kms_with_an_optional_key() {
        assert_eq!(Encryption::parse("AES256"), Ok(Encryption::Aes256));
        assert_eq!(Encryption::parse("KMS"), Ok(Encryption::Kms(None)));
        assert_eq!(
            Encryption::parse("KMS:arn:aws:kms:us-east-1:123456789012:key/1234abcd"),
            Ok(Encryption::Kms(Some(
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd".into()
            )))
        );
        for bad in ["aes256", "KMS:", "SM4", "KMS:a b"] {
            assert!(Encryption::parse(bad).is_err(), "{bad:?}");
        }
    }
}
