//! Session-policy templates, rendered per caller into the `Policy` parameter of `AssumeRole`.
//!
//! A template is a JSON document whose string values may hold placeholders:
//!
//! | placeholder | value |
//! |---|---|
//! | `$BUCKET_NAME` | `BUCKET` |
//! | `$OBJECT_PREFIX` | the caller's rendered prefix (`OBJECT_PREFIX`) |
//! | `$IMM_PROJECT` | `IMM_PROJECT` (start-up fails when a template uses it and it is unset) |
//! | `${sub}` | the caller's verified `sub` |
//! | `${claim.NAME}` | the caller's claim `NAME` |
//!
//! `${sub}` and `${claim.NAME}` must be safe path segments (see [`crate::vend::prefix`]), as in a
//! prefix: a claim holding `*` or `/` could otherwise widen a resource. A caller whose value
//! is not is refused.
//!
//! `${…:…}` (a policy variable such as `${aws:username}`) and a `$` not followed by a
//! placeholder name stay as they are. Any other `$NAME` or `${name}` is refused at start-up,
//! so a typo cannot silently produce a policy that grants something else.
//!
//! Rendering walks the parsed document and substitutes inside string values only; the
//! result is serialized again, so no value (a claim holding `"`, `\` or `*`, say) can leave
//! its string. The rendered policy is minified and must fit STS's limit of
//! [`MAX_POLICY_BYTES`].

use serde_json::Value;

use crate::Error;
use crate::Provider;
use crate::caller::Caller;
use crate::vend::prefix::{caller_value, is_claim_name};

/// The RAM action that lists a bucket's objects (ListObjects and ListObjectsV2).
pub const LIST_OSS: &str = "oss:ListObjects";

/// The IAM action that lists a bucket's objects (ListObjects and ListObjectsV2).
pub const LIST_S3: &str = "s3:ListBucket";

/// STS's limit on the `Policy` parameter (2048 characters; counted here in bytes, which is
/// never fewer).
pub const MAX_POLICY_BYTES: usize = 2048;

/// The templates that ship inside the binaries, by the names `POLICY_FILE` accepts for them.
pub(super) const BUNDLED: &[(&str, &str)] = &[
    (
        "bucket_write_policy.json",
        include_str!("../../policies/bucket_write_policy.json"),
    ),
    (
        "bucket_read_policy.json",
        include_str!("../../policies/bucket_read_policy.json"),
    ),
    (
        "bucket_write_imm_policy.json",
        include_str!("../../policies/bucket_write_imm_policy.json"),
    ),
    (
        "aws/bucket_write_policy.json",
        include_str!("../../policies/aws/bucket_write_policy.json"),
    ),
    (
        "aws/bucket_read_policy.json",
        include_str!("../../policies/aws/bucket_read_policy.json"),
    ),
];

/// The name of the bundled template used when `POLICY_FILE` is unset: the write policy of
/// the provider.
pub fn default_template(provider: Provider) -> &'static str {
    match provider {
        Provider::Aliyun => "bucket_write_policy.json",
        Provider::Aws => "aws/bucket_write_policy.json",
    }
}

/// The values placeholders are replaced with, for one caller.
#[derive(Debug, Clone, Copy)]
pub struct PolicyVars<'a> {
    /// `$BUCKET_NAME`.
    pub bucket: &'a str,
    /// `$OBJECT_PREFIX`: the caller's rendered object prefix.
    pub object_prefix: &'a str,
    /// `$IMM_PROJECT`, when configured.
    pub imm_project: Option<&'a str>,
    /// `${sub}` and `${claim.NAME}`.
    pub caller: &'a Caller,
}

/// A parsed session-policy template.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyTemplate {
    name: String,
    document: Value,
}

impl PolicyTemplate {
    /// Parses a template; `name` (a file name) is used in error messages.
    ///
    /// The document must be a JSON object with a non-empty `Statement` array. Placeholders
    /// are checked by [`PolicyTemplate::render`], which start-up calls once with the longest
    /// values a caller can bring.
    pub fn parse(name: &str, text: &str) -> Result<Self, Error> {
        let document: Value = serde_json::from_str(text)
            .map_err(|e| Error::Policy(format!("{name} is not valid JSON: {e}")))?;
        let statements = document
            .get("Statement")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Policy(format!("{name} has no \"Statement\" array")))?;
        if statements.is_empty() {
            return Err(Error::Policy(format!(
                "{name} has an empty \"Statement\" array"
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            document,
        })
    }

    /// A template that allows `actions` on the caller's prefix of the bucket
    /// (`acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX*`, `arn:aws:s3:::$BUCKET_NAME/$OBJECT_PREFIX*`).
    /// The listing action among them (`oss:ListObjects`, `s3:ListBucket`) is a bucket action:
    /// it is allowed on the bucket, for listings of the caller's prefix only (`oss:Prefix`,
    /// `s3:prefix` like `$OBJECT_PREFIX*`).
    pub fn allowing(name: &str, provider: Provider, actions: &[&str]) -> Self {
        let (version, bucket, listing, prefix_key) = match provider {
            Provider::Aliyun => ("1", "acs:oss:*:*:$BUCKET_NAME", LIST_OSS, "oss:Prefix"),
            Provider::Aws => (
                "2012-10-17",
                "arn:aws:s3:::$BUCKET_NAME",
                LIST_S3,
                "s3:prefix",
            ),
        };
        let (lists, objects): (Vec<&str>, Vec<&str>) =
            actions.iter().partition(|action| **action == listing);
        let mut statements = Vec::new();
        if !objects.is_empty() {
            let resource = format!("{bucket}/$OBJECT_PREFIX*");
            statements.push(
                serde_json::json!({ "Effect": "Allow", "Action": objects, "Resource": [resource] }),
            );
        }
        if !lists.is_empty() {
            statements.push(serde_json::json!({
                "Effect": "Allow",
                "Action": [listing],
                "Resource": [bucket],
                "Condition": { "StringLike": { prefix_key: ["$OBJECT_PREFIX*"] } },
            }));
        }
        Self {
            name: name.to_owned(),
            document: serde_json::json!({ "Version": version, "Statement": statements }),
        }
    }

    /// The bundled template called `name`, if there is one.
    pub fn bundled(name: &str) -> Option<Self> {
        let (name, text) = BUNDLED.iter().find(|(n, _)| *n == name)?;
        Self::parse(name, text).ok()
    }

    /// Where the template came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every `Action` string the template grants, for start-up warnings and tests.
    pub fn actions(&self) -> Vec<&str> {
        let statements = self.document.get("Statement").and_then(Value::as_array);
        statements
            .into_iter()
            .flatten()
            .filter(|s| s.get("Effect").and_then(Value::as_str) != Some("Deny"))
            .filter_map(|s| s.get("Action"))
            .flat_map(|a| match a {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The claims (`${claim.NAME}`) the template uses.
    pub fn claim_names(&self) -> Vec<String> {
        let text = self.document.to_string();
        text.match_indices("${claim.")
            .filter_map(|(at, marker)| {
                let rest = &text[at + marker.len()..];
                rest.find('}').map(|end| rest[..end].to_owned())
            })
            .filter(|name| is_claim_name(name))
            .collect()
    }

    /// Renders the template for one caller: minified JSON, at most [`MAX_POLICY_BYTES`].
    pub fn render(&self, vars: &PolicyVars<'_>) -> Result<String, Error> {
        let rendered =
            substitute_strings(&self.document, &|s| substitute(s, vars)).map_err(|e| match e {
                Refusal::Template(reason) => Error::Policy(format!("{}: {reason}", self.name)),
                Refusal::Caller(error) => error,
            })?;
        let minified = rendered.to_string();
        if minified.len() > MAX_POLICY_BYTES {
            return Err(Error::Policy(format!(
                "{} renders to {} bytes, more than STS's {MAX_POLICY_BYTES}",
                self.name,
                minified.len()
            )));
        }
        Ok(minified)
    }
}

/// Why a string could not be rendered: the template is wrong, or the caller's identity cannot
/// be placed in it.
enum Refusal {
    Template(String),
    Caller(Error),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Self {
        Self::Template(reason)
    }
}

impl From<&str> for Refusal {
    fn from(reason: &str) -> Self {
        Self::Template(reason.to_owned())
    }
}

/// A copy of `value` with `f` applied to every string value (object keys are left alone).
fn substitute_strings(
    value: &Value,
    f: &dyn Fn(&str) -> Result<String, Refusal>,
) -> Result<Value, Refusal> {
    Ok(match value {
        Value::String(s) => Value::String(f(s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_strings(v, f))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_strings(v, f)?)))
                .collect::<Result<_, Refusal>>()?,
        ),
        other => other.clone(),
    })
}

/// Replaces the placeholders in one string value.
fn substitute(s: &str, vars: &PolicyVars<'_>) -> Result<String, Refusal> {
    let mut out = String::with_capacity(s.len() + 64);
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        rest = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed \"${{\" in {s:?}"))?;
            let kept_as_written = &rest[at..at + 3 + end];
            out.push_str(braced_value(&braced[..end], vars)?.unwrap_or(kept_as_written));
            &braced[end + 1..]
        } else if after.starts_with(|c: char| c.is_ascii_uppercase() || c == '_') {
            let len = after
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            out.push_str(bare_value(&after[..len], vars)?);
            &after[len..]
        } else {
            out.push('$');
            after
        };
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `${name}`: the caller's `sub` or claim, or `None` for a policy variable of
/// the cloud's own (`${aws:username}`), which stays as written.
fn braced_value<'a>(name: &str, vars: &PolicyVars<'a>) -> Result<Option<&'a str>, Refusal> {
    let claim = name.strip_prefix("claim.").filter(|n| is_claim_name(n));
    match (name, claim) {
        ("sub", _) => caller_value(vars.caller, "sub").map(Some),
        (_, Some(claim)) => caller_value(vars.caller, claim).map(Some),
        _ if name.contains(':') => Ok(None),
        _ => return Err(format!("unknown placeholder ${{{name}}}").into()),
    }
    .map_err(Refusal::Caller)
}

/// The value of `$NAME`: the bucket, the caller's prefix or the IMM project.
fn bare_value<'a>(name: &str, vars: &PolicyVars<'a>) -> Result<&'a str, Refusal> {
    match name {
        "BUCKET_NAME" => Ok(vars.bucket),
        "OBJECT_PREFIX" => Ok(vars.object_prefix),
        "IMM_PROJECT" => Ok(vars
            .imm_project
            .ok_or("the template uses $IMM_PROJECT but IMM_PROJECT is unset")?),
        other => Err(format!("unknown placeholder ${other}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(prefix: &'a str, caller: &'a Caller) -> PolicyVars<'a> {
        PolicyVars {
            bucket: "examplebucket",
            object_prefix: prefix,
            imm_project: None,
            caller,
        }
    }

    #[test]
    fn bundled_write_policy_renders_to_the_callers_prefix_only() {
        let template = PolicyTemplate::bundled("bucket_write_policy.json").expect("bundled");
        let rendered = template
            .render(&vars("uploads/alice/", &Caller::with_sub("alice")))
            .expect("render");
        assert_eq!(
            rendered,
            r#"{"Statement":[{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket/uploads/alice/*"]}],"Version":"1"}"#
        );
    }

    #[test]
    fn bundled_read_policies_list_the_callers_prefix_and_no_other() {
        for (name, expected) in [
            (
                "bucket_read_policy.json",
                r#"{"Action":["oss:ListObjects"],"Condition":{"StringLike":{"oss:Prefix":["uploads/alice/*"]}},"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket"]}"#,
            ),
            (
                "aws/bucket_read_policy.json",
                r#"{"Action":["s3:ListBucket"],"Condition":{"StringLike":{"s3:prefix":["uploads/alice/*"]}},"Effect":"Allow","Resource":["arn:aws:s3:::examplebucket"]}"#,
            ),
        ] {
            let template = PolicyTemplate::bundled(name).expect("bundled");
            let rendered: Value = serde_json::from_str(
                &template
                    .render(&vars("uploads/alice/", &Caller::with_sub("alice")))
                    .expect("render"),
            )
            .expect("JSON");
            assert_eq!(rendered["Statement"][1].to_string(), expected, "{name}");
        }
    }

    #[test]
    fn an_allowed_listing_is_a_bucket_statement_confined_to_the_prefix() {
        let caller = Caller::with_sub("alice");
        let oss = PolicyTemplate::allowing("t", Provider::Aliyun, &["oss:GetObject", LIST_OSS])
            .render(&vars("uploads/alice/", &caller))
            .expect("render");
        assert_eq!(
            oss,
            r#"{"Statement":[{"Action":["oss:GetObject"],"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket/uploads/alice/*"]},{"Action":["oss:ListObjects"],"Condition":{"StringLike":{"oss:Prefix":["uploads/alice/*"]}},"Effect":"Allow","Resource":["acs:oss:*:*:examplebucket"]}],"Version":"1"}"#
        );
        let s3 = PolicyTemplate::allowing("t", Provider::Aws, &[LIST_S3])
            .render(&vars("uploads/alice/", &caller))
            .expect("render");
        assert_eq!(
            s3,
            r#"{"Statement":[{"Action":["s3:ListBucket"],"Condition":{"StringLike":{"s3:prefix":["uploads/alice/*"]}},"Effect":"Allow","Resource":["arn:aws:s3:::examplebucket"]}],"Version":"2012-10-17"}"#
        );
    }

    #[test]
    fn a_deny_statement_grants_nothing() {
        let template = PolicyTemplate::parse(
            "t",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX*"},{"Effect":"Deny","Action":["oss:DeleteObject"],"Resource":"acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX*"}]}"#,
        )
        .expect("parse");
        assert_eq!(template.actions(), ["oss:GetObject"]);
    }

    #[test]
    fn the_imm_template_reaches_one_project_only() {
        let template = PolicyTemplate::bundled("bucket_write_imm_policy.json").expect("bundled");
        let vars = PolicyVars {
            bucket: "web-direct-upload",
            object_prefix: "uploads/alice/",
            imm_project: Some("web-direct-project"),
            caller: &Caller::with_sub("alice"),
        };
        let rendered: Value =
            serde_json::from_str(&template.render(&vars).expect("render")).expect("JSON");
        assert_eq!(
            rendered["Statement"][1]["Resource"],
            serde_json::json!(["acs:imm:*:*:project/web-direct-project"])
        );
        assert_eq!(
            rendered["Statement"][1]["Action"],
            serde_json::json!(["imm:DetectImageFaces"])
        );
        let without = PolicyVars {
            imm_project: None,
            ..vars
        };
        assert!(
            template.render(&without).is_err(),
            "IMM_PROJECT is required by this template"
        );
    }

    #[test]
    fn bundled_templates_grant_no_wildcard_action() {
        for (name, _) in BUNDLED {
            let template = PolicyTemplate::bundled(name).expect("bundled");
            let actions = template.actions();
            assert!(!actions.is_empty(), "{name}");
            let services: &[&str] = if name.starts_with("aws/") {
                &["s3:"]
            } else {
                &["oss:", "imm:"]
            };
            for action in actions {
                assert!(
                    services.iter().any(|s| action.starts_with(s)) && !action.contains('*'),
                    "{name}: {action}"
                );
            }
        }
    }

    #[test]
    fn values_cannot_leave_their_string() {
        let template = PolicyTemplate::parse(
            "t.json",
            r#"{"Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX*"}]}"#,
        )
        .expect("parse");
        let hostile = r#"x"]},{"Effect":"Allow","Action":"*","Resource":"*"}],"a":["\"#;
        let rendered = template
            .render(&vars(hostile, &Caller::with_sub("s")))
            .expect("render");
        let parsed: Value = serde_json::from_str(&rendered).expect("still JSON");
        let statements = parsed["Statement"].as_array().expect("array");
        assert_eq!(statements.len(), 1, "{rendered}");
        assert_eq!(statements[0]["Action"], "oss:GetObject");
        assert_eq!(
            statements[0]["Resource"],
            format!("acs:oss:*:*:examplebucket/{hostile}*")
        );
    }

    #[test]
    fn identities_in_a_policy_must_be_safe_segments() {
        let template = PolicyTemplate::parse(
            "t.json",
            r#"{"Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:b/teams/${claim.team}/${sub}/*"}]}"#,
        )
        .expect("parse");
        assert_eq!(template.claim_names(), ["team"]);
        let mut caller = Caller::with_sub("alice");
        caller.claims.insert("team".to_owned(), "red".to_owned());
        let rendered = template.render(&vars("p/", &caller)).expect("render");
        assert!(
            rendered.contains(r#""acs:oss:*:*:b/teams/red/alice/*""#),
            "{rendered}"
        );
        for hostile in ["*", "red/../blue", "\"", "a b", ""] {
            caller.claims.insert("team".to_owned(), hostile.to_owned());
            let err = template.render(&vars("p/", &caller)).expect_err(hostile);
            assert!(
                matches!(err, Error::UnsafeIdentity { ref claim, .. } if claim == "team"),
                "{hostile:?}: {err}"
            );
        }
        caller.claims.remove("team");
        assert!(matches!(
            template.render(&vars("p/", &caller)),
            Err(Error::UnsafeIdentity { .. })
        ));
    }

    #[test]
    fn unknown_placeholders_are_refused_and_cloud_variables_kept() {
        let make = |resource: &str| {
            PolicyTemplate::parse(
                "t.json",
                &format!(r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"{resource}"}}]}}"#),
            )
            .expect("parse")
        };
        for bad in [
            "$BUCKET",
            "$OBJECT_PREFIXES",
            "${user}",
            "${sub",
            "$IMM_PROJECT",
        ] {
            let err = make(bad)
                .render(&vars("p/", &Caller::with_sub("s")))
                .expect_err(bad);
            assert!(matches!(err, Error::Policy(_)), "{bad}: {err}");
        }
        let kept = make("arn:aws:s3:::b/${aws:username}/$5/$")
            .render(&vars("p/", &Caller::with_sub("s")))
            .expect("render");
        assert!(
            kept.contains(r#""arn:aws:s3:::b/${aws:username}/$5/$""#),
            "{kept}"
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for (text, why) in [
            ("", "empty"),
            ("{", "truncated"),
            ("[]", "not an object"),
            (r#"{"Version":"1"}"#, "no Statement"),
            (r#"{"Statement":[]}"#, "empty Statement"),
            (r#"{"Statement":{}}"#, "Statement not an array"),
        ] {
            assert!(PolicyTemplate::parse("t.json", text).is_err(), "{why}");
        }
    }

    #[test]
    fn a_policy_over_the_sts_limit_is_refused() {
        let template = PolicyTemplate::bundled("bucket_read_policy.json").expect("bundled");
        let long_prefix = format!("{}/", "p".repeat(MAX_POLICY_BYTES));
        let err = template
            .render(&vars(&long_prefix, &Caller::with_sub("s")))
            .expect_err("too long");
        assert!(err.to_string().contains("more than STS's 2048"), "{err}");
    }
}
