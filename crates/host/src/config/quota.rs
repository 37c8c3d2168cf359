//! Quotas and grant rates: what each profile allows one subject to hold and one caller to ask
//! (`quota_bytes`, `quota_files`, `quota_subject`, `grant_rate`, or for the variables' profile
//! `QUOTA_BYTES`, `QUOTA_FILES`, `QUOTA_SUBJECT`, `GRANT_RATE`), and where the counts live
//! (`QUOTA_STORE` and its settings), read and checked once at cold start.
//!
//! A subject is rendered from the caller's identity at grant time and from the object's key
//! at record time, so `quota_subject` may only name placeholders its profile's prefix holds:
//! record-upload then reads the subject from where the object lies, which the uploader cannot
//! choose, rather than from anything the uploader wrote (metadata, a form field).

use std::sync::Arc;
use std::time::Duration;

use stsvend::{
    Caller, Clock, Error, HttpSender, PrefixTemplate, Provider, StsSettings, ValueTemplate,
};
use stsvend_quota::{DynamoAccess, Rate, Store, StoreUrl};

use super::env::{Env, config};

/// `QUOTA_TIMEOUT_MS` when unset.
const DEFAULT_TIMEOUT_MS: u64 = 500;

/// `QUOTA_RESERVATION_GRACE_SECONDS` when unset: five minutes after a URL expires.
const DEFAULT_GRACE_SECONDS: u64 = 300;

/// The longest grace: a day (a reservation outliving that holds quota nobody uses).
const MAX_GRACE_SECONDS: u64 = 86_400;

/// The largest `quota_bytes`: 1 PiB, far beyond any one user and well within every store's
/// whole numbers.
pub(super) const MAX_QUOTA_BYTES: u64 = 1 << 50;

/// The largest `quota_files`.
pub(super) const MAX_QUOTA_FILES: u64 = 1_000_000_000;

/// What one profile allows one subject, and one caller.
#[derive(Debug, Clone)]
pub struct ProfileQuota {
    /// `quota_bytes`: bytes one subject may hold (recorded and reserved).
    pub bytes: Option<u64>,
    /// `quota_files`: objects one subject may hold (recorded and reserved).
    pub files: Option<u64>,
    /// `quota_subject`: whose quota, `${sub}` by default.
    pub subject: ValueTemplate,
    /// `grant_rate`: answers one caller may get per window.
    pub rate: Option<Rate>,
}

impl Default for ProfileQuota {
    fn default() -> Self {
        Self {
            bytes: None,
            files: None,
            subject: default_subject(),
            rate: None,
        }
    }
}

impl ProfileQuota {
    /// Whether the profile holds subjects to a quota (bytes or files).
    pub fn limits_storage(&self) -> bool {
        self.bytes.is_some() || self.files.is_some()
    }

    /// Whether anything here needs the store.
    pub fn needs_store(&self) -> bool {
        self.limits_storage() || self.rate.is_some()
    }

    /// The subject whose quota `caller`'s grants count against. A claim the caller lacks, or
    /// one that could not stand as a path segment, is refused as in a prefix.
    pub fn subject_of(&self, caller: &Caller) -> Result<String, Error> {
        self.subject.render(caller)
    }

    /// The subject who holds an object, from the placeholders its key filled in its profile's
    /// prefix (`PrefixTemplate::attribute`); `None` when the template names one the prefix
    /// does not hold (refused at cold start, so never for a checked profile).
    pub fn subject_of_key(
        &self,
        placeholders: &std::collections::BTreeMap<String, String>,
    ) -> Option<String> {
        let mut caller = Caller::with_sub(placeholders.get("sub").cloned().unwrap_or_default());
        caller.claims = placeholders.clone();
        caller.claims.remove("sub");
        self.subject.render(&caller).ok()
    }

    /// Checks that every placeholder of the subject template is one `prefix` holds, so that
    /// record-upload can tell an object's subject from its key; `Err` names the missing one.
    pub fn check_subject_in(&self, prefix: &PrefixTemplate) -> Result<(), String> {
        for name in self.subject.placeholders() {
            let held = if name == "sub" {
                prefix.uses_sub()
            } else {
                prefix.claim_names().any(|claim| claim == name)
            };
            if !held {
                let written = if name == "sub" {
                    "${sub}".to_owned()
                } else {
                    format!("${{claim.{name}}}")
                };
                return Err(format!(
                    "{written} is not in the profile's prefix: record-upload finds an object's subject in its key, so the subject may only use the prefix's placeholders"
                ));
            }
        }
        Ok(())
    }
}

/// `${sub}`.
fn default_subject() -> ValueTemplate {
    ValueTemplate::parse("${sub}").expect("the default subject template parses")
}

/// Reads a `quota_subject` / `QUOTA_SUBJECT` template: `${sub}` and `${claim.NAME}` with
/// literal text, at least one placeholder (a subject without one is everybody's).
pub(super) fn subject_template(text: &str) -> Result<ValueTemplate, String> {
    let template = ValueTemplate::parse(text)?;
    if template.placeholders().next().is_none() {
        return Err(format!(
            "{text:?} names no ${{sub}} or ${{claim.NAME}}: every caller would share one quota"
        ));
    }
    Ok(template)
}

/// Reads a `grant_rate` / `GRANT_RATE`: `N/second`, `N/minute`, `N/hour` or `N/day`, N from 1
/// to 1,000,000.
pub(super) fn rate(text: &str) -> Result<Rate, String> {
    let bad = || {
        format!(
            "{text:?} is not N/second, N/minute, N/hour or N/day with N a whole number from 1 to 1000000"
        )
    };
    let (count, unit) = text.split_once('/').ok_or_else(bad)?;
    let count: u64 = count.trim().parse().map_err(|_| bad())?;
    if !(1..=1_000_000).contains(&count) {
        return Err(bad());
    }
    let seconds = match unit.trim() {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return Err(bad()),
    };
    Ok(Rate {
        count,
        per: Duration::from_secs(seconds),
    })
}

/// A quota's byte or object count, from 1 to `max`.
pub(super) fn quota_count(value: u64, max: u64) -> Result<u64, String> {
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not a whole number from 1 to {max}"))
    }
}

/// The variables' profile's quota (`QUOTA_BYTES`, `QUOTA_FILES`, `QUOTA_SUBJECT`,
/// `GRANT_RATE`), or `None` when none is set.
pub(super) fn from_variables(env: &Env<'_>) -> Result<Option<ProfileQuota>, Error> {
    const NAMES: [&str; 4] = ["QUOTA_BYTES", "QUOTA_FILES", "QUOTA_SUBJECT", "GRANT_RATE"];
    if NAMES.iter().all(|name| env.text(name).is_none()) {
        return Ok(None);
    }
    let count = |name: &'static str, max| -> Result<Option<u64>, Error> {
        env.text(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{v:?} is not a whole number from 1 to {max}"))
                    .and_then(|n| quota_count(n, max))
                    .map_err(|reason| config(name, reason))
            })
            .transpose()
    };
    let subject = match env.text("QUOTA_SUBJECT") {
        Some(text) => subject_template(&text).map_err(|r| config("QUOTA_SUBJECT", r))?,
        None => default_subject(),
    };
    Ok(Some(ProfileQuota {
        bytes: count("QUOTA_BYTES", MAX_QUOTA_BYTES)?,
        files: count("QUOTA_FILES", MAX_QUOTA_FILES)?,
        subject,
        rate: env
            .text("GRANT_RATE")
            .map(|text| rate(&text).map_err(|r| config("GRANT_RATE", r)))
            .transpose()?,
    }))
}

/// The variables only the variables' profile reads: refused with a profiles file, where each
/// profile says its own (`quota_bytes`, ...).
pub(super) fn refuse_variables_with_file(env: &Env<'_>) -> Result<(), Error> {
    for (name, field) in [
        ("QUOTA_BYTES", "quota_bytes"),
        ("QUOTA_FILES", "quota_files"),
        ("QUOTA_SUBJECT", "quota_subject"),
        ("GRANT_RATE", "grant_rate"),
    ] {
        if env.text(name).is_some() {
            return Err(config(
                name,
                format!(
                    "is for the one profile without PROFILES_FILE; with it, set {field} in each profile"
                ),
            ));
        }
    }
    Ok(())
}

/// Where the counts live and how they are asked (`QUOTA_STORE`, `QUOTA_STORE_ENDPOINT`,
/// `QUOTA_TIMEOUT_MS`, `QUOTA_RESERVATION_GRACE_SECONDS`, `QUOTA_FAIL_OPEN`), and the store
/// once connected at cold start.
#[derive(Debug, Clone)]
pub struct QuotaSettings {
    /// `QUOTA_STORE`, parsed.
    pub url: StoreUrl,
    /// `QUOTA_STORE_ENDPOINT`: DynamoDB's endpoint, when not the region's.
    pub endpoint: Option<String>,
    /// `QUOTA_TIMEOUT_MS`: the deadline of one store exchange.
    pub timeout: Duration,
    /// `QUOTA_RESERVATION_GRACE_SECONDS`: how long after its URL expires a reservation holds.
    pub grace_seconds: u64,
    /// `QUOTA_FAIL_OPEN`: let grants through (and log it) when the store cannot answer.
    pub fail_open: bool,
    /// The store, once [`QuotaSettings::connect`] reached it.
    store: Option<Arc<Store>>,
}

impl QuotaSettings {
    /// Reads the store's settings when `needed` (some profile has a quota or a rate), else
    /// refuses `QUOTA_STORE` set for nothing to count. `QUOTA_STORE=sqlite:` is refused under
    /// Lambda and Function Compute, whose instances share no disk.
    pub(super) fn read(
        env: &Env<'_>,
        needed: bool,
        provider: Provider,
    ) -> Result<Option<Self>, Error> {
        let Some(text) = env.text("QUOTA_STORE") else {
            if needed {
                return Err(config(
                    "QUOTA_STORE",
                    "is required with a quota or grant rate: redis://host:port, dynamodb:TABLE or sqlite:PATH",
                ));
            }
            return Ok(None);
        };
        if !needed {
            return Err(config(
                "QUOTA_STORE",
                "is set but no profile has a quota or grant rate (QUOTA_BYTES, quota_bytes, ...)",
            ));
        }
        let url = StoreUrl::parse(&text).map_err(|e| config("QUOTA_STORE", e.0))?;
        let shares_no_disk = env.text("AWS_LAMBDA_RUNTIME_API").is_some()
            || (env.text("FC_FUNCTION_NAME").is_some() && env.text("FC_REGION").is_some());
        if matches!(url, StoreUrl::Sqlite(_)) && shares_no_disk {
            return Err(config(
                "QUOTA_STORE",
                "sqlite: keeps the counts on one host's disk; Lambda and Function Compute instances share none: use redis:// or dynamodb:",
            ));
        }
        if matches!(url, StoreUrl::DynamoDb { .. }) && provider != Provider::Aws {
            return Err(config(
                "QUOTA_STORE",
                "dynamodb: signs with the function's own AWS credentials: it needs PROVIDER=aws; use redis:// (ApsaraDB for Redis, Tair) on Alibaba Cloud",
            ));
        }
        let timeout_ms = env.number(
            "QUOTA_TIMEOUT_MS",
            DEFAULT_TIMEOUT_MS,
            1..=10_000,
            "a whole number of milliseconds from 1 to 10000",
        )?;
        Ok(Some(Self {
            url,
            endpoint: env.text("QUOTA_STORE_ENDPOINT"),
            timeout: Duration::from_millis(timeout_ms),
            grace_seconds: env.number(
                "QUOTA_RESERVATION_GRACE_SECONDS",
                DEFAULT_GRACE_SECONDS,
                0..=MAX_GRACE_SECONDS,
                "a whole number of seconds from 0 to 86400",
            )?,
            fail_open: env.flag("QUOTA_FAIL_OPEN", false)?,
            store: None,
        }))
    }

    /// Connects to the store and makes one exchange, so that a wrong address stops the cold
    /// start with a message naming `QUOTA_STORE`. DynamoDB is signed with the function's own
    /// credentials (`sts`), sent by its one `sender`.
    pub async fn connect(
        &mut self,
        sts: &StsSettings,
        sender: Arc<dyn HttpSender>,
        clock: Arc<dyn Clock>,
    ) -> Result<(), Error> {
        let dynamo = matches!(self.url, StoreUrl::DynamoDb { .. }).then(|| DynamoAccess {
            endpoint: self.endpoint.clone(),
            region: sts.region.clone(),
            credentials: Arc::clone(&sts.credentials),
            sender,
            clock,
        });
        let store = Store::connect(&self.url, self.timeout, dynamo)
            .await
            .map_err(|e| config("QUOTA_STORE", format!("cannot be reached: {e}")))?;
        self.store = Some(Arc::new(store));
        Ok(())
    }

    /// The connected store; `None` before [`QuotaSettings::connect`].
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use stsvend_test_support::config::minimal;

    use super::*;

    fn load(vars: &HashMap<&'static str, String>) -> Result<crate::Config, Error> {
        crate::Config::load(&|k| vars.get(k).cloned())
    }

    fn with(extra: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        let mut vars = minimal();
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        vars
    }

    fn refusal(vars: &HashMap<&'static str, String>) -> (&'static str, String) {
        match load(vars) {
            Err(Error::Config { variable, reason }) => (variable, reason),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// A profiles file of its own, named after the test.
    fn profiles_file(name: &str, text: &str) -> String {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("stsvend-quota-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    }

    #[test]
    fn grant_rates_are_a_count_per_named_window() {
        for (text, count, seconds) in [
            ("10/second", 10, 1),
            ("1/minute", 1, 60),
            ("100/hour", 100, 3600),
            ("1000000/day", 1_000_000, 86_400),
        ] {
            let rate = rate(text).expect(text);
            assert_eq!((rate.count, rate.per.as_secs()), (count, seconds), "{text}");
        }
        for text in [
            "",
            "10",
            "0/second",
            "-1/day",
            "10/week",
            "10/Second",
            "1000001/day",
            "x/day",
            "10/",
        ] {
            assert!(rate(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn without_quotas_there_is_no_store_and_no_store_without_quotas() {
        let config = load(&minimal()).expect("valid");
        assert!(config.quota.is_none());
        assert!(!config.profiles.list[0].quota.needs_store());
        let (variable, reason) = refusal(&with(&[("QUOTA_STORE", "sqlite:/tmp/q.db")]));
        assert_eq!(variable, "QUOTA_STORE");
        assert!(reason.contains("no profile has a quota"), "{reason}");
    }

    #[test]
    fn the_variables_give_the_default_profile_its_quota() {
        let config = load(&with(&[
            ("QUOTA_BYTES", "1000"),
            ("QUOTA_FILES", "10"),
            ("GRANT_RATE", "5/minute"),
            ("QUOTA_STORE", "sqlite:/tmp/stsvend-q.db"),
            ("QUOTA_RESERVATION_GRACE_SECONDS", "0"),
        ]))
        .expect("valid");
        let quota = &config.profiles.list[0].quota;
        assert_eq!((quota.bytes, quota.files), (Some(1000), Some(10)));
        assert_eq!(quota.rate.map(|r| r.count), Some(5));
        let settings = config.quota.expect("settings");
        assert_eq!(settings.timeout, Duration::from_millis(500));
        assert_eq!(settings.grace_seconds, 0);
        assert!(!settings.fail_open && settings.store().is_none());
        assert_eq!(
            quota
                .subject_of(&Caller::with_sub("alice"))
                .expect("subject"),
            "alice"
        );
    }

    #[test]
    fn each_bad_quota_value_names_its_variable() {
        let store = ("QUOTA_STORE", "sqlite:/tmp/stsvend-q.db");
        let cases: &[(&[(&'static str, &str)], &str)] = &[
            (&[("QUOTA_BYTES", "1000")], "QUOTA_STORE"),
            (&[("GRANT_RATE", "5/minute")], "QUOTA_STORE"),
            (&[("QUOTA_BYTES", "0"), store], "QUOTA_BYTES"),
            (&[("QUOTA_BYTES", "1e6"), store], "QUOTA_BYTES"),
            (&[("QUOTA_BYTES", "-5"), store], "QUOTA_BYTES"),
            (&[("QUOTA_FILES", "1000000001"), store], "QUOTA_FILES"),
            (&[("GRANT_RATE", "5 per minute"), store], "GRANT_RATE"),
            (
                &[("QUOTA_FILES", "1"), ("QUOTA_STORE", "mysql://x")],
                "QUOTA_STORE",
            ),
            (
                &[("QUOTA_FILES", "1"), ("QUOTA_STORE", "sqlite:")],
                "QUOTA_STORE",
            ),
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_TIMEOUT_MS", "0")],
                "QUOTA_TIMEOUT_MS",
            ),
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_TIMEOUT_MS", "10001")],
                "QUOTA_TIMEOUT_MS",
            ),
            (
                &[
                    ("QUOTA_FILES", "1"),
                    store,
                    ("QUOTA_RESERVATION_GRACE_SECONDS", "x"),
                ],
                "QUOTA_RESERVATION_GRACE_SECONDS",
            ),
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_FAIL_OPEN", "yes")],
                "QUOTA_FAIL_OPEN",
            ),
            // A subject must name someone, and only what the prefix holds.
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_SUBJECT", "everyone")],
                "QUOTA_SUBJECT",
            ),
            (
                &[
                    ("QUOTA_FILES", "1"),
                    store,
                    ("QUOTA_SUBJECT", "${claim.tenant}"),
                ],
                "QUOTA_SUBJECT",
            ),
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_SUBJECT", "${nope}")],
                "QUOTA_SUBJECT",
            ),
            (
                &[("QUOTA_FILES", "1"), store, ("QUOTA_SUBJECT", "a,b=${sub}")],
                "QUOTA_SUBJECT",
            ),
            // DynamoDB signs with AWS credentials.
            (
                &[("QUOTA_FILES", "1"), ("QUOTA_STORE", "dynamodb:quota")],
                "QUOTA_STORE",
            ),
        ];
        for (extra, expected) in cases {
            let (variable, reason) = refusal(&with(extra));
            assert_eq!(variable, *expected, "{extra:?}: {reason}");
        }
    }

    #[test]
    fn sqlite_is_refused_where_instances_share_no_disk() {
        let base = [("QUOTA_FILES", "1"), ("QUOTA_STORE", "sqlite:/tmp/q.db")];
        let lambda = [
            base[0],
            base[1],
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ];
        let (variable, reason) = refusal(&with(&lambda));
        assert_eq!(variable, "QUOTA_STORE");
        assert!(reason.contains("Lambda"), "{reason}");
        let fc = [
            base[0],
            base[1],
            ("FC_FUNCTION_NAME", "presign-url"),
            ("FC_REGION", "cn-hangzhou"),
        ];
        assert_eq!(refusal(&with(&fc)).0, "QUOTA_STORE");
        // A Redis store is fine there.
        let redis = [
            base[0],
            ("QUOTA_STORE", "redis://127.0.0.1:6379"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ];
        assert!(load(&with(&redis)).is_ok());
    }

    #[test]
    fn a_tenant_subject_needs_the_tenant_in_the_prefix() {
        let vars = with(&[
            ("OBJECT_PREFIX", "t/${claim.tenant}/${sub}/"),
            ("QUOTA_SUBJECT", "team-${claim.tenant}"),
            ("QUOTA_BYTES", "100"),
            ("QUOTA_STORE", "sqlite:/tmp/q.db"),
        ]);
        let config = load(&vars).expect("valid");
        let quota = &config.profiles.list[0].quota;
        let key = "t/acme/alice/a.png";
        let placeholders = config.profiles.list[0].prefix.attribute(key).expect("held");
        assert_eq!(
            quota.subject_of_key(&placeholders).as_deref(),
            Some("team-acme")
        );
        let mut caller = Caller::with_sub("bob");
        assert!(quota.subject_of(&caller).is_err(), "no tenant claim");
        caller.claims.insert("tenant".into(), "../x".into());
        assert!(quota.subject_of(&caller).is_err(), "not a path segment");
        caller.claims.insert("tenant".into(), "acme".into());
        assert_eq!(quota.subject_of(&caller).expect("subject"), "team-acme");
    }

    #[test]
    fn profiles_set_their_own_quotas_and_the_variables_are_refused_beside_them() {
        let text = "[profiles.avatar]\nprefix = \"avatars/${sub}/\"\nquota_bytes = 2048\nquota_files = 3\ngrant_rate = \"2/second\"\n[profiles.free]\nprefix = \"free/${sub}/\"\n";
        let file = profiles_file("good", text);
        let store = ("QUOTA_STORE", "sqlite:/tmp/q.db");
        let config = load(&with(&[("PROFILES_FILE", &file), store])).expect("valid");
        // A profile without a quota needs no subject: its prefix may name nobody.
        let shared = "[profiles.shared]\nprefix = \"shared/\"\ngrant_rate = \"5/second\"\n[profiles.own]\nprefix = \"own/${sub}/\"\nquota_files = 1\n";
        let shared = profiles_file("shared", shared);
        assert!(load(&with(&[("PROFILES_FILE", &shared), store])).is_ok());
        let avatar = &config.profiles.list[0];
        assert_eq!(avatar.name, "avatar");
        assert_eq!(
            (avatar.quota.bytes, avatar.quota.files),
            (Some(2048), Some(3))
        );
        assert!(!config.profiles.list[1].quota.needs_store());
        let (variable, reason) = refusal(&with(&[
            ("PROFILES_FILE", &file),
            store,
            ("QUOTA_BYTES", "5"),
        ]));
        assert_eq!(variable, "QUOTA_BYTES");
        assert!(reason.contains("quota_bytes"), "{reason}");
        for (i, (line, field)) in [
            ("quota_bytes = 0", "quota_bytes"),
            ("quota_bytes = \"1\"", "quota_bytes"),
            ("quota_files = -1", "quota_files"),
            ("grant_rate = \"fast\"", "grant_rate"),
            (
                "quota_files = 1\nquota_subject = \"${claim.org}\"",
                "quota_subject",
            ),
            ("quota_subject = \"all\"", "quota_subject"),
        ]
        .iter()
        .enumerate()
        {
            let text = format!("[profiles.p]\nprefix = \"p/${{sub}}/\"\n{line}\n");
            let file = profiles_file(&format!("bad-{i}"), &text);
            let (variable, reason) = refusal(&with(&[("PROFILES_FILE", &file), store]));
            assert_eq!(variable, "PROFILES_FILE");
            assert!(
                reason.contains(&format!("field {field}")),
                "{line}: {reason}"
            );
        }
    }
}
