//! The upload profile a request uses (`profile`, from `PROFILES_FILE`, or the one profile
//! `default` the variables form): its prefix, its settings (the variables' with the
//! profile's fields in their place), the session policy its role signs under, and the key:
//! the client's, or with a `key` template the server's, from the request's `filename`.

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use stsvend::{
    Error, KeyParts, KeyTemplate, PolicyTemplate, PrefixTemplate, Provider, Scope, check_key,
};
use stsvend_host::{ApiError, Config};

use crate::checks;
use crate::request::{Ask, Operation};
use crate::settings::PresignSettings;

/// One profile, ready for requests.
pub(crate) struct ProfileState {
    /// Its name, which every answer carries (`Profile`).
    pub(crate) name: String,
    /// Its prefix template.
    pub(crate) prefix: PrefixTemplate,
    /// Its server-chosen key, when it has one.
    pub(crate) key: Option<KeyTemplate>,
    /// What it signs, and the rules signed into its uploads.
    pub(crate) settings: PresignSettings,
    /// With `ROLE_ARN`: the session policy allowing the object actions behind its methods on
    /// the caller's prefix.
    pub(crate) session_policy: PolicyTemplate,
    /// `cdn = true`: every GET is answered with a CDN URL.
    pub(crate) cdn: bool,
}

/// Every profile of `config`, in [`stsvend_host::config::Profiles::list`]'s order, each with
/// `base` (the variables' settings) under its own fields.
pub(crate) fn load(config: &Config, base: &PresignSettings) -> Result<Vec<ProfileState>, Error> {
    let profiles = &config.profiles;
    profiles
        .list
        .iter()
        .map(|profile| {
            let settings = match &profiles.file {
                Some(file) => base.for_profile(profile, file)?,
                None => base.clone(),
            };
            let session_policy = session_policy(config, &profile.prefix, &settings)?;
            Ok(ProfileState {
                name: profile.name.clone(),
                prefix: profile.prefix.clone(),
                key: profile.key.clone(),
                settings,
                session_policy,
                cdn: profile.cdn,
            })
        })
        .collect()
}

/// The session policy presign-url's role signs under for a profile: the object actions behind
/// its methods, on the caller's prefix, checked to fit STS's limit.
fn session_policy(
    config: &Config,
    prefix: &PrefixTemplate,
    settings: &PresignSettings,
) -> Result<PolicyTemplate, Error> {
    let provider: Provider = config.provider;
    let policy = PolicyTemplate::allowing(
        "presign-url session policy",
        provider,
        &settings.methods.actions(provider),
    );
    if config.sts.role_arn.is_some() {
        let scope = Scope {
            object_prefix: prefix.clone(),
            ..config.scope.clone()
        };
        scope.check_policy_fits(&policy)?;
    }
    Ok(policy)
}

/// The key a request signs, and whether the server chose it: with a `key` template, the
/// uploads that name a new object (PUT, a form, multipart initiate) get the template rendered
/// under `prefix` from the request's `filename`, and a request naming `key` for one is
/// refused; every other request names its key as without a profile.
pub(crate) fn key(
    ask: &Ask,
    prefix: &str,
    template: Option<&KeyTemplate>,
    now: SystemTime,
    random: [u8; 16],
) -> Result<(String, bool), ApiError> {
    let creates = matches!(
        ask.operation,
        Operation::Put | Operation::Initiate | Operation::Form { .. }
    );
    let Some(template) = template.filter(|_| creates) else {
        if ask.filename.is_some() {
            return Err(ApiError::bad_request(
                "FieldNotApplicable",
                "filename is for profiles whose key the server chooses, on PUT, POST and initiate; send key",
            ));
        }
        return checks::checked_key(ask, prefix).map(|key| (key, false));
    };
    let starts_with = matches!(ask.operation, Operation::Form { starts_with: true });
    if ask.key.is_some() || starts_with {
        return Err(ApiError::bad_request(
            "KeyChosenByServer",
            "this profile chooses the key of each upload: send filename, not key or startsWith; the answer's Key names it",
        ));
    }
    let parts = KeyParts {
        filename: ask.filename.as_deref(),
        random,
        now,
    };
    let chosen = template.render(&parts).map_err(|reason| {
        let code = if ask.filename.is_none() {
            "MissingFilename"
        } else {
            "InvalidFilename"
        };
        ApiError::bad_request(code, reason)
    })?;
    let key = format!("{prefix}{chosen}");
    check_key(&key).map_err(|reason| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidFilename",
            format!("the key made from filename cannot be used: {reason}"),
        )
    })?;
    Ok((key, true))
}
