//! A profile's rules as record-upload checks them against the store's facts: the key's shape,
//! the size, the type, the stamped metadata and (with `detect_type`) the content's real type.
//!
//! Only a deployment with `PROFILES_FILE` checks: without it, record-upload records as it
//! always has. A rule the file does not set for a profile is not checked here (the variables
//! it would take are presign-url's, which signs them where the store enforces them).

use std::collections::BTreeMap;

use serde::Serialize;
use stsvend::{Caller, KeyTemplate, PrefixTemplate, Stamp, media_type_matches};
use stsvend_host::config::{OnViolation, Profile};

use crate::detect::{self, Content};
use crate::settings::ProfileDefaults;
use crate::store::ObjectFacts;

/// The rule an upload broke, as `upload.rejected` names it (`"reason"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Reason {
    /// Over `max_bytes`.
    TooLarge,
    /// Under `min_bytes`.
    TooSmall,
    /// The stored `Content-Type` is not one of `content_types`.
    ContentTypeNotAllowed,
    /// The content is not of a type `content_types` allows (`detect_type`).
    ContentNotOfType,
    /// A stamped metadata entry is missing or holds another value.
    MetadataMissing,
    /// The key is not of the profile's `key` shape.
    KeyNotOfProfile,
    /// No profile's prefix holds the key.
    NoProfile,
    /// The upload took its subject past the profile's quota (`quota_bytes`, `quota_files`).
    QuotaExceeded,
}

impl Reason {
    /// The `ErrorCode` of the answer to a rejected callback.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "UploadRejected.TooLarge",
            Self::TooSmall => "UploadRejected.TooSmall",
            Self::ContentTypeNotAllowed => "UploadRejected.ContentTypeNotAllowed",
            Self::ContentNotOfType => "UploadRejected.ContentNotOfType",
            Self::MetadataMissing => "UploadRejected.MetadataMissing",
            Self::KeyNotOfProfile => "UploadRejected.KeyNotOfProfile",
            Self::NoProfile => "UploadRejected.NoProfile",
            Self::QuotaExceeded => "UploadRejected.QuotaExceeded",
        }
    }
}

/// One broken rule, and why, in words (no secret; the uploader's text escaped by the logger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) reason: Reason,
    pub(crate) detail: String,
}

fn broke(reason: Reason, detail: String) -> Result<(), Violation> {
    Err(Violation { reason, detail })
}

/// One `content_types` entry: `type/subtype` or `type/*`, lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypePattern(String);

impl TypePattern {
    /// An entry as the profiles file writes it (presign-url has checked its shape).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let (kind, sub) = text.split_once('/')?;
        (!kind.is_empty() && !sub.is_empty()).then_some(Self(text))
    }

    /// Whether the media type of `content_type` (parameters aside) is this entry's.
    pub(crate) fn holds(&self, content_type: &str) -> bool {
        self.0 == "*/*" || media_type_matches(&self.0, content_type)
    }

    /// Whether the entry names `media_type` itself (or is `*/*`), not through `type/*`.
    pub(crate) fn names_exactly(&self, media_type: &str) -> bool {
        self.0 == media_type || self.0 == "*/*"
    }

    /// Whether content no signature identifies can be of this entry's type.
    pub(crate) fn holds_unidentified(&self) -> bool {
        matches!(self.0.as_str(), "*/*" | "application/octet-stream")
            || (self.0.starts_with("text/") && self.0 != "text/html")
    }
}

/// What record-upload does with a profile's violations when the file does not say: report.
/// Deleting is never the default.
pub(crate) const DEFAULT_ON_VIOLATION: OnViolation = OnViolation::Report;

/// One profile's rules, ready for uploads.
#[derive(Debug, Clone)]
pub(crate) struct ProfileRules {
    pub(crate) name: String,
    prefix: PrefixTemplate,
    key: Option<KeyTemplate>,
    min_bytes: Option<u64>,
    max_bytes: Option<u64>,
    content_types: Option<Vec<TypePattern>>,
    metadata: Vec<Stamp>,
    pub(crate) detect_type: bool,
    pub(crate) on_violation: OnViolation,
}

impl ProfileRules {
    /// `profile`'s rules, its unset `max_bytes`, `content_types` and `metadata` taken from
    /// the variables set for the deployment (`defaults`).
    pub(crate) fn new(profile: &Profile, defaults: &ProfileDefaults) -> Self {
        let content_types = profile
            .content_types
            .as_ref()
            .or(defaults.content_types.as_ref())
            .map(|types| types.iter().filter_map(|t| TypePattern::parse(t)).collect());
        Self {
            name: profile.name.clone(),
            prefix: profile.prefix.clone(),
            key: profile.key.clone(),
            min_bytes: profile.min_bytes,
            max_bytes: profile.max_bytes.or(defaults.max_bytes),
            content_types,
            metadata: profile
                .metadata
                .clone()
                .or_else(|| defaults.metadata.clone())
                .unwrap_or_default(),
            detect_type: profile.detect_type,
            on_violation: profile.on_violation.unwrap_or(DEFAULT_ON_VIOLATION),
        }
    }

    /// Whether the profile's prefix holds `key`.
    pub(crate) fn holds(&self, key: &str) -> bool {
        self.prefix.attribute(key).is_some()
    }

    /// Whether the content must be read: `detect_type` with `content_types` set (without a
    /// list of types, any content is of an allowed type).
    pub(crate) fn reads_content(&self) -> bool {
        self.detect_type && self.content_types.is_some()
    }

    /// Every rule the store's facts show, in this order: the key's shape, the size, the type,
    /// the metadata. `uploader` is the prefix's reading of the key.
    pub(crate) fn check(
        &self,
        key: &str,
        uploader: &BTreeMap<String, String>,
        facts: &ObjectFacts,
    ) -> Result<(), Violation> {
        self.check_key(key, uploader)?;
        if let Some(max) = self.max_bytes
            && facts.size > max
        {
            return broke(
                Reason::TooLarge,
                format!("{} bytes is over the profile's max_bytes {max}", facts.size),
            );
        }
        if let Some(min) = self.min_bytes
            && facts.size < min
        {
            return broke(
                Reason::TooSmall,
                format!(
                    "{} bytes is under the profile's min_bytes {min}",
                    facts.size
                ),
            );
        }
        if let Some(allowed) = &self.content_types {
            let stored = facts.content_type.as_deref().unwrap_or("");
            if !allowed.iter().any(|p| p.holds(stored)) {
                return broke(
                    Reason::ContentTypeNotAllowed,
                    "the stored Content-Type is not one of the profile's content_types".to_owned(),
                );
            }
        }
        self.check_metadata(uploader, &facts.metadata)
    }

    /// The content's real type, from its first bytes (`detect_type`).
    pub(crate) fn check_content(&self, head: &[u8]) -> Result<Content, Violation> {
        let content = detect::detect(head);
        match &self.content_types {
            Some(allowed) if !detect::of_allowed_type(content, allowed) => Err(Violation {
                reason: Reason::ContentNotOfType,
                detail: match content.media_type() {
                    Some(found) => {
                        format!("the content is {found}, not of the profile's content_types")
                    }
                    None => "the content is of no type the profile's content_types name".to_owned(),
                },
            }),
            _ => Ok(content),
        }
    }

    /// With a server-chosen key, what follows the prefix must be of the template's shape.
    fn check_key(&self, key: &str, uploader: &BTreeMap<String, String>) -> Result<(), Violation> {
        let Some(template) = &self.key else {
            return Ok(());
        };
        let caller = caller_of(uploader);
        let rest = self
            .prefix
            .render(&caller)
            .ok()
            .and_then(|prefix| key.strip_prefix(prefix.as_str()));
        match rest {
            Some(rest) if template.matches(rest) => Ok(()),
            _ => broke(
                Reason::KeyNotOfProfile,
                "the key is not of the shape of the profile's key template".to_owned(),
            ),
        }
    }

    /// Each stamped entry present, with the value the profile renders for the uploader. A
    /// value rendered from a claim the key does not show (the prefix has no such
    /// placeholder) cannot be known here: such an entry must be present, with any value.
    fn check_metadata(
        &self,
        uploader: &BTreeMap<String, String>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), Violation> {
        let caller = caller_of(uploader);
        for stamp in &self.metadata {
            let Some(stored) = metadata.get(&stamp.name) else {
                return broke(
                    Reason::MetadataMissing,
                    format!("the object has no metadata entry {:?}", stamp.name),
                );
            };
            if let Ok(expected) = stamp.value.render(&caller)
                && *stored != expected
            {
                return broke(
                    Reason::MetadataMissing,
                    format!(
                        "the object's metadata entry {:?} is not the value stamped for its uploader",
                        stamp.name
                    ),
                );
            }
        }
        Ok(())
    }
}

/// The caller a prefix's reading of a key describes: `sub` and the claims it shows.
fn caller_of(uploader: &BTreeMap<String, String>) -> Caller {
    let mut caller = Caller::with_sub(uploader.get("sub").cloned().unwrap_or_default());
    caller.claims = uploader
        .iter()
        .filter(|(name, _)| name.as_str() != "sub")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    caller
}

#[cfg(test)]
mod tests {
    use stsvend::{PrefixTemplate, parse_stamps};
    use stsvend_host::config::Profiles;

    use super::*;

    const UUID_KEY: &str = "avatars/alice/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png";

    fn avatar() -> ProfileRules {
        ProfileRules {
            name: "avatar".to_owned(),
            prefix: PrefixTemplate::parse("avatars/${sub}/").expect("prefix"),
            key: Some(KeyTemplate::parse("${uuid}${ext}").expect("key")),
            min_bytes: Some(1),
            max_bytes: Some(2_097_152),
            content_types: Some(
                ["image/png", "image/jpeg"]
                    .iter()
                    .filter_map(|t| TypePattern::parse(t))
                    .collect(),
            ),
            metadata: parse_stamps("uploader=${sub},kind=avatar", stsvend::is_metadata_name)
                .expect("stamps"),
            detect_type: true,
            on_violation: OnViolation::Delete,
        }
    }

    fn alice() -> BTreeMap<String, String> {
        BTreeMap::from([("sub".to_owned(), "alice".to_owned())])
    }

    /// The variables set for the deployment stand for what a profile leaves unset, and
    /// never for what it sets.
    #[test]
    fn the_variables_set_stand_for_a_profiles_unset_fields() {
        let defaults = ProfileDefaults {
            max_bytes: Some(10),
            content_types: Some(vec!["image/png".to_owned()]),
            metadata: Some(
                parse_stamps("uploader=${sub}", stsvend::is_metadata_name).expect("stamp"),
            ),
        };
        let facts = |size: u64, content_type: &str, uploader: Option<&str>| ObjectFacts {
            size,
            etag: "0123".to_owned(),
            content_type: Some(content_type.to_owned()),
            metadata: uploader
                .map(|u| BTreeMap::from([("uploader".to_owned(), u.to_owned())]))
                .unwrap_or_default(),
        };
        let key = "docs/alice/a.png";
        let mut bare =
            Profiles::from_variables(PrefixTemplate::parse("docs/${sub}/").expect("prefix"))
                .list
                .remove(0);
        bare.on_violation = None;
        let rules = ProfileRules::new(&bare, &defaults);
        assert!(
            rules
                .check(key, &alice(), &facts(10, "image/png", Some("alice")))
                .is_ok()
        );
        let reason = |f: ObjectFacts| rules.check(key, &alice(), &f).expect_err("broken").reason;
        assert_eq!(
            reason(facts(11, "image/png", Some("alice"))),
            Reason::TooLarge
        );
        assert_eq!(
            reason(facts(10, "text/html", Some("alice"))),
            Reason::ContentTypeNotAllowed
        );
        assert_eq!(
            reason(facts(10, "image/png", None)),
            Reason::MetadataMissing
        );

        let mut own = bare.clone();
        own.max_bytes = Some(100);
        own.content_types = Some(vec!["text/*".to_owned()]);
        own.metadata = Some(Vec::new());
        let rules = ProfileRules::new(&own, &defaults);
        assert!(
            rules
                .check(key, &alice(), &facts(100, "text/plain", None))
                .is_ok()
        );
        assert_eq!(
            rules
                .check(key, &alice(), &facts(101, "text/plain", None))
                .expect_err("over")
                .reason,
            Reason::TooLarge
        );

        let none = ProfileRules::new(&bare, &ProfileDefaults::default());
        assert!(
            none.check(key, &alice(), &facts(1 << 40, "text/html", None))
                .is_ok()
        );
    }

    fn facts(
        size: u64,
        content_type: Option<&str>,
        metadata: BTreeMap<String, String>,
    ) -> ObjectFacts {
        ObjectFacts {
            size,
            etag: "9b2cf535f27731c974343645a3985328".to_owned(),
            content_type: content_type.map(str::to_owned),
            metadata,
        }
    }

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A name, the key, the size, the type and metadata stored, and the rule broken.
    type Case = (
        &'static str,
        &'static str,
        u64,
        Option<&'static str>,
        BTreeMap<String, String>,
        Option<Reason>,
    );

    #[test]
    fn each_rule_is_told_by_its_reason() {
        let good = meta(&[("uploader", "alice"), ("kind", "avatar")]);
        let cases: Vec<Case> = vec![
            (
                "good",
                UUID_KEY,
                1024,
                Some("image/png"),
                good.clone(),
                None,
            ),
            (
                "exactly max",
                UUID_KEY,
                2_097_152,
                Some("image/jpeg"),
                good.clone(),
                None,
            ),
            (
                "with parameters",
                UUID_KEY,
                10,
                Some("Image/PNG; x=1"),
                good.clone(),
                None,
            ),
            (
                "one byte over",
                UUID_KEY,
                2_097_153,
                Some("image/png"),
                good.clone(),
                Some(Reason::TooLarge),
            ),
            (
                "empty",
                UUID_KEY,
                0,
                Some("image/png"),
                good.clone(),
                Some(Reason::TooSmall),
            ),
            (
                "html",
                UUID_KEY,
                10,
                Some("text/html"),
                good.clone(),
                Some(Reason::ContentTypeNotAllowed),
            ),
            (
                "svg",
                UUID_KEY,
                10,
                Some("image/svg+xml"),
                good.clone(),
                Some(Reason::ContentTypeNotAllowed),
            ),
            (
                "no type",
                UUID_KEY,
                10,
                None,
                good.clone(),
                Some(Reason::ContentTypeNotAllowed),
            ),
            (
                "no metadata",
                UUID_KEY,
                10,
                Some("image/png"),
                meta(&[]),
                Some(Reason::MetadataMissing),
            ),
            (
                "another uploader stamped",
                UUID_KEY,
                10,
                Some("image/png"),
                meta(&[("uploader", "mallory"), ("kind", "avatar")]),
                Some(Reason::MetadataMissing),
            ),
            (
                "one entry missing",
                UUID_KEY,
                10,
                Some("image/png"),
                meta(&[("uploader", "alice")]),
                Some(Reason::MetadataMissing),
            ),
            (
                "a key the client chose",
                "avatars/alice/me.png",
                10,
                Some("image/png"),
                good.clone(),
                Some(Reason::KeyNotOfProfile),
            ),
            (
                "a deeper key",
                "avatars/alice/x/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png",
                10,
                Some("image/png"),
                good.clone(),
                Some(Reason::KeyNotOfProfile),
            ),
            // The key's shape is checked first, then the size: the first rule broken is named.
            (
                "two rules broken",
                "avatars/alice/me.png",
                5_000_000,
                Some("text/html"),
                meta(&[]),
                Some(Reason::KeyNotOfProfile),
            ),
        ];
        let rules = avatar();
        for (name, key, size, content_type, metadata, expected) in cases {
            let got = rules
                .check(key, &alice(), &facts(size, content_type, metadata))
                .err()
                .map(|v| v.reason);
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn unset_fields_check_nothing() {
        let rules = ProfileRules {
            key: None,
            min_bytes: None,
            max_bytes: None,
            content_types: None,
            metadata: Vec::new(),
            ..avatar()
        };
        assert!(
            rules
                .check(
                    "avatars/alice/any name.html",
                    &alice(),
                    &facts(0, None, meta(&[]))
                )
                .is_ok()
        );
        assert!(!rules.reads_content());
        assert!(rules.check_content(b"<html>").is_ok());
    }

    #[test]
    fn the_content_must_be_of_an_allowed_type() {
        let rules = avatar();
        assert!(
            rules
                .check_content(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
                .is_ok()
        );
        for disguised in [
            &b"<!doctype html><p>hi"[..],
            b"<svg onload=alert(1)>",
            b"<script>alert(1)</script>",
            b"%PDF-1.7\n",
            b"plain text",
        ] {
            let got = rules.check_content(disguised).err().map(|v| v.reason);
            assert_eq!(got, Some(Reason::ContentNotOfType), "{disguised:?}");
        }
    }
}
