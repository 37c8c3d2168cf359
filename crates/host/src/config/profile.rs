//! Upload profiles: `PROFILES_FILE`, a TOML file of `[profiles.NAME]` tables, each a kind of
//! upload with its own prefix, key, methods, types, sizes and rules; read and checked once at
//! cold start. Without the file, today's variables form the one profile `default`.
//!
//! What every function needs of a profile is typed here (its name, prefix, server-chosen key,
//! sizes, disposition, session policy, what record-upload does about a violation); what only
//! presign-url reads (`methods`) is kept as written and parsed by presign-url
//! with the parsers of the matching variables. A profile's unset field takes the matching
//! variable's value. Every refusal names the file, the profile and the field.

use std::collections::BTreeMap;
use std::path::Path;

use lambda_http::http::StatusCode;
use serde::Deserialize;
use stsvend::{
    Encryption, Error, KeyTemplate, PolicyTemplate, PrefixTemplate, Scope, Stamp, ValueTemplate,
    is_metadata_name, is_tag_key,
};

use super::env::content_types;
use super::quota::{
    MAX_QUOTA_BYTES, MAX_QUOTA_FILES, ProfileQuota, quota_count, rate, subject_template,
};
use super::seed::load_policy;
use crate::response::ApiError;

/// The name of the one profile today's variables form when `PROFILES_FILE` is unset.
pub const DEFAULT_PROFILE: &str = "default";

/// The largest upload a profile may allow: 5 GiB, the largest single upload either store takes.
pub const MAX_PROFILE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The longest URL life a profile may set (`expires`): 7 days.
const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// How the stored object is served: `Content-Disposition` signed into every upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentDisposition {
    /// `inline`: shown in the browser.
    Inline,
    /// `attachment`: downloaded.
    Attachment,
}

impl ContentDisposition {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Attachment => "attachment",
        }
    }
}

/// What record-upload does with an upload that breaks its profile's rules (phase 2 enforces
/// it); presign-url signs the uploads whose size the store cannot bound only when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    /// Delete the object, and report it.
    Delete,
    /// Leave it in place, and report it.
    Report,
}

/// One profile, checked. `None` fields take the matching variable's value.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `NAME` of `[profiles.NAME]`, or `default`.
    pub name: String,
    /// `prefix` (as `OBJECT_PREFIX`).
    pub prefix: PrefixTemplate,
    /// `key`: the server-chosen key under the prefix; `None`: the client names it.
    pub key: Option<KeyTemplate>,
    /// `methods`, as written (presign-url parses them as `PRESIGN_METHODS`).
    pub methods: Option<Vec<String>>,
    /// `content_types`, checked and lower-cased as `ALLOWED_CONTENT_TYPES` is.
    pub content_types: Option<Vec<String>>,
    /// `min_bytes`.
    pub min_bytes: Option<u64>,
    /// `max_bytes` (as `UPLOAD_MAX_BYTES`).
    pub max_bytes: Option<u64>,
    /// `overwrite` (as `UPLOAD_OVERWRITE`).
    pub overwrite: Option<bool>,
    /// `content_disposition`.
    pub content_disposition: Option<ContentDisposition>,
    /// `metadata` (as `UPLOAD_METADATA`).
    pub metadata: Option<Vec<Stamp>>,
    /// `tagging` (as `UPLOAD_TAGGING`).
    pub tagging: Option<Vec<Stamp>>,
    /// `server_side_encryption` (as `UPLOAD_SERVER_SIDE_ENCRYPTION`).
    pub server_side_encryption: Option<Encryption>,
    /// `require_checksum` (as `UPLOAD_REQUIRE_CHECKSUM`).
    pub require_checksum: Option<bool>,
    /// `expires`: the longest URL life (as `PRESIGN_MAX_EXPIRES_SECONDS`).
    pub expires: Option<u64>,
    /// `policy`: issue-token's session-policy template (as `POLICY_FILE`).
    pub policy: Option<PolicyTemplate>,
    /// `detect_type`: record-upload checks the content's real type (phase 2).
    pub detect_type: bool,
    /// `on_violation`.
    pub on_violation: Option<OnViolation>,
    /// `cdn`: presign-url answers every GET of this profile with a CDN URL (`CDN_DOMAIN`),
    /// never a bucket URL.
    pub cdn: bool,
    /// `quota_bytes`, `quota_files`, `quota_subject` and `grant_rate` (for the variables'
    /// profile, `QUOTA_BYTES`, ...).
    pub quota: ProfileQuota,
}

impl Profile {
    /// The profile today's variables form: every field unset but the prefix.
    fn from_variables(prefix: PrefixTemplate) -> Self {
        Self {
            name: DEFAULT_PROFILE.to_owned(),
            prefix,
            key: None,
            methods: None,
            content_types: None,
            min_bytes: None,
            max_bytes: None,
            overwrite: None,
            content_disposition: None,
            metadata: None,
            tagging: None,
            server_side_encryption: None,
            require_checksum: None,
            expires: None,
            policy: None,
            detect_type: false,
            on_violation: None,
            cdn: false,
            quota: ProfileQuota::default(),
        }
    }

    /// Whether the profile bounds the size of its uploads (`min_bytes` or `max_bytes`).
    pub fn bounds_size(&self) -> bool {
        self.min_bytes.is_some() || self.max_bytes.is_some()
    }
}

/// Every profile of the deployment, in name order, and the one a request without `profile`
/// gets.
#[derive(Debug, Clone)]
pub struct Profiles {
    /// `PROFILES_FILE` as given; `None` when the variables form the one profile `default`.
    pub file: Option<String>,
    /// `default_profile`, or `default` without a file.
    pub default_profile: Option<String>,
    /// The profiles, sorted by name.
    pub list: Vec<Profile>,
}

impl Profiles {
    /// The one profile `default` today's variables form.
    pub fn from_variables(prefix: PrefixTemplate) -> Self {
        Self {
            file: None,
            default_profile: Some(DEFAULT_PROFILE.to_owned()),
            list: vec![Profile::from_variables(prefix)],
        }
    }

    /// Reads and checks `PROFILES_FILE` at `path`; `scope` (with `OBJECT_PREFIX`'s template)
    /// checks that each profile's policy fits STS's limit.
    pub fn read(path: &str, scope: &Scope) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(path, None, None, format!("cannot be read: {e}")))?;
        let file: FileText =
            toml::from_str(&text).map_err(|e| invalid(path, None, None, e.message().to_owned()))?;
        let dir = Path::new(path).parent().unwrap_or(Path::new("."));
        let mut list = Vec::new();
        let mut literals = Vec::new();
        for (name, table) in file.profiles {
            if !is_profile_name(&name) {
                return Err(invalid(
                    path,
                    Some(&name),
                    None,
                    "a profile name is 1 to 64 lower-case letters, digits and '-'".to_owned(),
                ));
            }
            let raw = RawProfile::deserialize(table.clone()).map_err(|e| {
                let field = failing_field(&table);
                invalid(path, Some(&name), field.as_deref(), e.message().to_owned())
            })?;
            // The literal text before the first placeholder, for the overlap check.
            literals.push(raw.prefix.split("${").next().unwrap_or_default().to_owned());
            list.push(raw.check(path, name, dir, scope)?);
        }
        if list.is_empty() {
            return Err(invalid(path, None, None, "defines no profile".to_owned()));
        }
        check_overlaps(path, &list, &literals)?;
        if let Some(default) = &file.default_profile
            && !list.iter().any(|p| &p.name == default)
        {
            return Err(invalid(
                path,
                None,
                Some("default_profile"),
                format!("{default:?} is not a profile of the file"),
            ));
        }
        Ok(Self {
            file: Some(path.to_owned()),
            default_profile: file.default_profile,
            list,
        })
    }

    /// The index in [`Profiles::list`] of the profile a request asks for (`None`: the default):
    /// 400 `UnknownProfile` for a name the deployment lacks, 400 `ProfileRequired` when none
    /// is asked and the file names no `default_profile`.
    pub fn choose(&self, asked: Option<&str>) -> Result<usize, ApiError> {
        let name = match (asked, &self.default_profile) {
            (Some(name), _) => name,
            (None, Some(default)) => default,
            (None, None) => {
                return Err(ApiError::bad_request(
                    "ProfileRequired",
                    format!(
                        "this deployment has several upload profiles; send profile ({})",
                        self.names()
                    ),
                ));
            }
        };
        self.list
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                // The name is not echoed: it is the caller's text, and the log keeps it.
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "UnknownProfile",
                    format!("no such profile; this deployment has {}", self.names()),
                )
            })
    }

    /// The prefix template of the profile whose prefix holds `key` (for one of its callers),
    /// so that record-upload attributes an upload under any profile's prefix; `None` when no
    /// profile's does. Profiles' prefixes do not overlap, so at most one holds a key.
    pub fn prefix_holding(&self, key: &str) -> Option<&PrefixTemplate> {
        self.list
            .iter()
            .map(|profile| &profile.prefix)
            .find(|prefix| prefix.attribute(key).is_some())
    }

    fn names(&self) -> String {
        let names: Vec<&str> = self.list.iter().map(|p| p.name.as_str()).collect();
        names.join(", ")
    }
}

/// The file's top level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, toml::Table>,
}

/// One `[profiles.NAME]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    prefix: String,
    key: Option<String>,
    methods: Option<Vec<String>>,
    content_types: Option<Vec<String>>,
    min_bytes: Option<u64>,
    max_bytes: Option<u64>,
    overwrite: Option<bool>,
    content_disposition: Option<ContentDisposition>,
    metadata: Option<BTreeMap<String, String>>,
    tagging: Option<BTreeMap<String, String>>,
    server_side_encryption: Option<String>,
    require_checksum: Option<bool>,
    expires: Option<u64>,
    policy: Option<String>,
    #[serde(default)]
    detect_type: bool,
    on_violation: Option<OnViolation>,
    #[serde(default)]
    cdn: bool,
    quota_bytes: Option<u64>,
    quota_files: Option<u64>,
    quota_subject: Option<String>,
    grant_rate: Option<String>,
}

/// A profile's `expires`: 1 second to 7 days.
fn check_expires(expires: Option<u64>) -> Result<(), String> {
    match expires {
        Some(n) if !(1..=MAX_EXPIRES_SECONDS).contains(&n) => Err(format!(
            "{n} is not a whole number of seconds from 1 to 604800 (7 days)"
        )),
        _ => Ok(()),
    }
}

impl RawProfile {
    /// Checks every field of profile `name` of `file`.
    fn check(self, file: &str, name: String, dir: &Path, scope: &Scope) -> Result<Profile, Error> {
        let bad =
            |field: &'static str, reason: String| invalid(file, Some(&name), Some(field), reason);
        let prefix = PrefixTemplate::parse(&self.prefix).map_err(|e| bad("prefix", reason(e)))?;
        let key = match &self.key {
            None => None,
            Some(text) => Some(KeyTemplate::parse(text).map_err(|r| bad("key", r))?),
        };
        let bytes = |field, value: Option<u64>, least| match value {
            Some(n) if !(least..=MAX_PROFILE_BYTES).contains(&n) => Err(bad(
                field,
                format!("{n} is not a byte count from {least} to 5 GiB"),
            )),
            other => Ok(other),
        };
        let min_bytes = bytes("min_bytes", self.min_bytes, 0)?;
        let max_bytes = bytes("max_bytes", self.max_bytes, 1)?;
        if let (Some(min), Some(max)) = (min_bytes, max_bytes)
            && min > max
        {
            return Err(bad("min_bytes", format!("{min} is over max_bytes {max}")));
        }
        check_expires(self.expires).map_err(|r| bad("expires", r))?;
        let quota = self.quota(&prefix).map_err(|(field, r)| bad(field, r))?;
        let metadata = stamps(self.metadata, is_metadata_name).map_err(|r| bad("metadata", r))?;
        let tagging = stamps(self.tagging, is_tag_key).map_err(|r| bad("tagging", r))?;
        let server_side_encryption = match &self.server_side_encryption {
            None => None,
            Some(text) => {
                Some(Encryption::parse(text).map_err(|r| bad("server_side_encryption", r))?)
            }
        };
        let content_types = match &self.content_types {
            None => None,
            Some(types) => Some(
                content_types("ALLOWED_CONTENT_TYPES", &types.join(","))
                    .map_err(|e| bad("content_types", reason(e)))?,
            ),
        };
        let policy = match &self.policy {
            None => None,
            Some(given) => {
                let policy = load_policy("PROFILES_FILE", &dir.join(given), given)
                    .map_err(|e| bad("policy", reason(e)))?;
                let profile_scope = Scope {
                    object_prefix: prefix.clone(),
                    ..scope.clone()
                };
                profile_scope
                    .check_policy_fits(&policy)
                    .map_err(|e| bad("policy", reason(e)))?;
                Some(policy)
            }
        };
        Ok(Profile {
            name,
            prefix,
            key,
            methods: self.methods,
            content_types,
            min_bytes,
            max_bytes,
            overwrite: self.overwrite,
            content_disposition: self.content_disposition,
            metadata,
            tagging,
            server_side_encryption,
            require_checksum: self.require_checksum,
            expires: self.expires,
            policy,
            detect_type: self.detect_type,
            on_violation: self.on_violation,
            cdn: self.cdn,
            quota,
        })
    }

    /// The quota fields, checked; an error names the field.
    fn quota(&self, prefix: &PrefixTemplate) -> Result<ProfileQuota, (&'static str, String)> {
        let bytes = self
            .quota_bytes
            .map(|n| quota_count(n, MAX_QUOTA_BYTES).map_err(|r| ("quota_bytes", r)))
            .transpose()?;
        let files = self
            .quota_files
            .map(|n| quota_count(n, MAX_QUOTA_FILES).map_err(|r| ("quota_files", r)))
            .transpose()?;
        let mut quota = ProfileQuota {
            bytes,
            files,
            rate: self
                .grant_rate
                .as_deref()
                .map(|text| rate(text).map_err(|r| ("grant_rate", r)))
                .transpose()?,
            ..ProfileQuota::default()
        };
        if let Some(text) = &self.quota_subject {
            quota.subject = subject_template(text).map_err(|r| ("quota_subject", r))?;
        }
        // Only a quota has a subject (a rate counts per caller): a profile without one may have
        // a prefix with no placeholder.
        if quota.limits_storage() {
            quota
                .check_subject_in(prefix)
                .map_err(|r| ("quota_subject", r))?;
        }
        Ok(quota)
    }
}

/// A table of names to value templates (`${sub}`, `${claim.NAME}`), each name as `valid`
/// allows.
fn stamps(
    table: Option<BTreeMap<String, String>>,
    valid: fn(&str) -> bool,
) -> Result<Option<Vec<Stamp>>, String> {
    let Some(table) = table else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (name, value) in table {
        let name = name.to_ascii_lowercase();
        if !valid(&name) {
            return Err(format!("{name:?} is not a name the stores keep"));
        }
        let value = ValueTemplate::parse(&value).map_err(|r| format!("{name}: {r}"))?;
        out.push(Stamp { name, value });
    }
    Ok(Some(out))
}

/// A profile name: 1 to 64 lower-case letters, digits and `-`.
fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Two profiles whose prefixes could hold one key: the literal text of each prefix before its
/// first placeholder; when one is a prefix of the other, some caller's key could lie under
/// both, and which profile's rules hold would be ambiguous.
fn check_overlaps(file: &str, list: &[Profile], literals: &[String]) -> Result<(), Error> {
    for (i, (a, la)) in list.iter().zip(literals).enumerate() {
        for (b, lb) in list.iter().zip(literals).skip(i + 1) {
            if la.starts_with(lb.as_str()) || lb.starts_with(la.as_str()) {
                return Err(invalid(
                    file,
                    Some(&b.name),
                    Some("prefix"),
                    format!(
                        "it could hold the same keys as profile {:?} (their literal parts {lb:?} and {la:?}: one starts the other); give each profile a prefix of its own",
                        a.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The field of `table` that a profile cannot take: `prefix` when it is missing, else the
/// first field refused when read alone beside the prefix (serde's message names an unknown
/// field, but not the field whose value has the wrong type).
fn failing_field(table: &toml::Table) -> Option<String> {
    let Some(prefix) = table.get("prefix") else {
        return Some("prefix".to_owned());
    };
    table
        .iter()
        .find(|(name, value)| {
            let mut alone = toml::Table::new();
            alone.insert("prefix".to_owned(), prefix.clone());
            alone.insert((*name).clone(), (*value).clone());
            RawProfile::deserialize(alone).is_err()
        })
        .map(|(name, _)| name.clone())
}

/// The reason an error of the library gives, without its variable.
fn reason(error: Error) -> String {
    match error {
        Error::Config { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// A refusal of `PROFILES_FILE`, naming the file, the profile and the field.
pub fn invalid(file: &str, profile: Option<&str>, field: Option<&str>, reason: String) -> Error {
    let mut at = file.to_owned();
    if let Some(profile) = profile {
        at.push_str(&format!(", profile {profile:?}"));
    }
    if let Some(field) = field {
        at.push_str(&format!(", field {field}"));
    }
    Error::Config {
        variable: "PROFILES_FILE",
        reason: format!("{at}: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use std::collections::HashMap;

    use stsvend_test_support::config::minimal;

    use super::*;

    /// The configuration `vars` give (this crate's own `Config`, not test-support's copy).
    fn load(vars: &HashMap<&'static str, String>) -> Result<crate::Config, Error> {
        crate::Config::load(&|k| vars.get(k).cloned())
    }

    /// Writes `text` as a profiles file of its own (named after the test) and loads the
    /// configuration with it.
    fn with_file(name: &str, text: &str) -> (String, Result<crate::Config, Error>) {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("stsvend-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write");
        let path = path.display().to_string();
        let mut vars = minimal();
        vars.insert("PROFILES_FILE", path.clone());
        (path, load(&vars))
    }

    const GOOD: &str = r#"
default_profile = "attachment"

[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
methods = ["PUT", "POST", "GET", "HEAD"]
content_types = ["image/png", "image/jpeg"]
min_bytes = 1
max_bytes = 2097152
overwrite = false
content_disposition = "inline"
metadata = { uploader = "${sub}" }
tagging = { kind = "avatar" }
server_side_encryption = "AES256"
require_checksum = false
expires = 600
detect_type = true
on_violation = "delete"

[profiles.attachment]
prefix = "attachments/${sub}/"

[profiles.video-2]
prefix = "videos/${sub}/"
on_violation = "report"
"#;

    /// The refusal's text, which must name the file, the profile and the field.
    fn refusal(name: &str, text: &str) -> (String, String) {
        let (path, result) = with_file(name, text);
        match result {
            Err(Error::Config { variable, reason }) => {
                assert_eq!(variable, "PROFILES_FILE");
                assert!(reason.contains(&path), "{reason} does not name {path}");
                (path, reason)
            }
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_good_file_gives_every_profile_in_name_order() {
        let (path, config) = with_file("good", GOOD);
        let profiles = config.expect("valid").profiles;
        assert_eq!(profiles.file.as_deref(), Some(path.as_str()));
        let names: Vec<&str> = profiles.list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["attachment", "avatar", "video-2"]);
        let avatar = &profiles.list[1];
        assert_eq!(
            (avatar.min_bytes, avatar.max_bytes),
            (Some(1), Some(2_097_152))
        );
        assert_eq!(avatar.content_disposition, Some(ContentDisposition::Inline));
        assert_eq!(avatar.on_violation, Some(OnViolation::Delete));
        assert!(avatar.detect_type && avatar.key.is_some() && avatar.bounds_size());
        assert_eq!(avatar.metadata.as_ref().map(Vec::len), Some(1));
        let attachment = &profiles.list[0];
        assert!(attachment.key.is_none() && attachment.methods.is_none());
        assert!(!attachment.bounds_size() && !attachment.detect_type);
        assert_eq!(profiles.list[2].on_violation, Some(OnViolation::Report));
        assert_eq!(profiles.choose(None).expect("default"), 0);
        assert_eq!(profiles.choose(Some("avatar")).expect("avatar"), 1);
    }

    #[test]
    fn an_upload_is_attributed_under_the_profile_whose_prefix_holds_it() {
        let (_, config) = with_file("holding", GOOD);
        let profiles = config.expect("valid").profiles;
        let holding = |key: &str| {
            profiles
                .prefix_holding(key)
                .and_then(|prefix| prefix.attribute(key))
                .map(|claims| claims["sub"].clone())
        };
        assert_eq!(holding("avatars/alice/x.png").as_deref(), Some("alice"));
        assert_eq!(holding("videos/bob/v.mp4").as_deref(), Some("bob"));
        assert_eq!(holding("uploads/alice/x.png"), None);
        assert_eq!(holding("avatars/x.png"), None);
    }

    #[test]
    fn without_a_file_the_variables_are_the_one_profile_default() {
        let profiles = load(&minimal()).expect("valid").profiles;
        assert!(profiles.file.is_none());
        assert_eq!(profiles.list.len(), 1);
        assert_eq!(profiles.list[0].name, "default");
        assert_eq!(profiles.choose(None).expect("default"), 0);
        assert_eq!(profiles.choose(Some("default")).expect("default"), 0);
        let unknown = profiles.choose(Some("avatar")).expect_err("unknown");
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.code, "UnknownProfile");
    }

    #[test]
    fn a_request_without_profile_needs_a_default_profile() {
        let text = GOOD.replace("default_profile = \"attachment\"", "");
        let (_, config) = with_file("no-default", &text);
        let profiles = config.expect("valid").profiles;
        let error = profiles.choose(None).expect_err("no default");
        assert_eq!(error.status, 400);
        assert_eq!(error.code, "ProfileRequired");
        let error = profiles.choose(Some("Avatar")).expect_err("case matters");
        assert_eq!(error.code, "UnknownProfile");
    }

    #[test]
    fn each_bad_file_names_the_profile_and_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            // What to write in `[profiles.p]` (after a good prefix), the field named.
            ("colour = \"red\"", "colour", "unknown field"),
            ("min_bytes = -1", "min_bytes", ""),
            ("min_bytes = \"1\"", "min_bytes", ""),
            ("max_bytes = 0", "max_bytes", "5 GiB"),
            ("max_bytes = 5368709121", "max_bytes", "5 GiB"),
            (
                "min_bytes = 10\nmax_bytes = 9",
                "min_bytes",
                "over max_bytes",
            ),
            (
                "content_disposition = \"download\"",
                "content_disposition",
                "",
            ),
            ("on_violation = \"ignore\"", "on_violation", ""),
            ("detect_type = \"yes\"", "detect_type", ""),
            ("key = \"${name}\"", "key", ""),
            ("key = \"../${uuid}\"", "key", ""),
            ("key = \"/${uuid}\"", "key", ""),
            ("expires = 0", "expires", ""),
            ("expires = 604801", "expires", ""),
            ("metadata = { \"Up Loader\" = \"x\" }", "metadata", ""),
            ("metadata = { uploader = \"${nope}\" }", "metadata", ""),
            (
                "server_side_encryption = \"ROT13\"",
                "server_side_encryption",
                "",
            ),
            ("policy = \"no-such-policy.json\"", "policy", ""),
        ];
        for (i, &(line, field, says)) in cases.iter().enumerate() {
            let text = format!("[profiles.p]\nprefix = \"p/${{sub}}/\"\n{line}\n");
            let (_, reason) = refusal(&format!("bad-{i}"), &text);
            assert!(reason.contains("profile \"p\""), "{line}: {reason}");
            assert!(
                reason.contains(&format!("field {field}")),
                "{line}: {reason}"
            );
            assert!(reason.contains(says), "{line}: {reason}");
        }
    }

    #[test]
    fn bad_names_prefixes_and_tops_are_refused() {
        let (_, reason) = refusal("name", "[profiles.Avatar]\nprefix = \"a/\"\n");
        assert!(reason.contains("profile \"Avatar\""), "{reason}");
        for name in ["a_b", "a.b", "a b", "é"] {
            let text = format!("[profiles.\"{name}\"]\nprefix = \"a/\"\n");
            refusal("names", &text);
        }
        let (_, reason) = refusal("prefix", "[profiles.a]\nprefix = \"a\"\n");
        assert!(reason.contains("field prefix"), "{reason}");
        let (_, reason) = refusal("no-prefix", "[profiles.a]\nkey = \"${uuid}\"\n");
        assert!(
            reason.contains("profile \"a\"") && reason.contains("prefix"),
            "{reason}"
        );
        let (_, reason) = refusal("top", "colour = 1\n[profiles.a]\nprefix = \"a/\"\n");
        assert!(reason.contains("colour"), "{reason}");
        refusal("empty", "");
        let (_, reason) = refusal(
            "default",
            "default_profile = \"b\"\n[profiles.a]\nprefix = \"a/\"\n",
        );
        assert!(reason.contains("field default_profile"), "{reason}");
        let (_, reason) = refusal("toml", "[profiles.a\nprefix = \"a/\"\n");
        assert!(!reason.is_empty());
    }

    #[test]
    fn prefixes_that_could_hold_one_key_are_refused() {
        let overlapping = [
            ("a/${sub}/", "a/b/"),
            ("uploads/", "uploads/${sub}/"),
            ("${sub}/", "x/"),
            ("", "x/"),
            ("a/${sub}/", "a/${claim.tenant}/"),
            ("same/", "same/"),
        ];
        for (i, (first, second)) in overlapping.iter().enumerate() {
            let text = format!(
                "[profiles.one]\nprefix = \"{first}\"\n[profiles.two]\nprefix = \"{second}\"\n"
            );
            let (_, reason) = refusal(&format!("overlap-{i}"), &text);
            assert!(reason.contains("field prefix"), "{reason}");
            assert!(
                reason.contains("\"one\"") && reason.contains("\"two\""),
                "{reason}"
            );
        }
        let apart = "[profiles.one]\nprefix = \"ab/${sub}/\"\n[profiles.two]\nprefix = \"ac/${sub}/\"\n[profiles.three]\nprefix = \"a/\"\n";
        let (_, config) = with_file("apart", apart);
        assert_eq!(config.expect("apart").profiles.list.len(), 3);
    }
}
