//! "My files": `list: true`, a presigned listing (ListObjectsV2) of the caller's own prefix,
//! so that an app can show a user their uploads without a server of its own.
//!
//! The prefix is always the caller's: a client names none. What keeps the URL to it is the
//! signature, where it covers `prefix` (OSS V4, S3), or else the session policy of the
//! temporary keys that signed it (`ROLE_ARN`); a listing that neither confines is refused.

use crate::settings::PresignSettings;
use lambda_http::http::StatusCode;
use stsvend::sign::ListParams;
use stsvend_host::ApiError;

/// One page of the caller's listing, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listing {
    /// `startAfter`: a key under the caller's prefix.
    pub(crate) start_after: Option<String>,
    /// `continuationToken`: the previous page's `NextContinuationToken`.
    pub(crate) continuation_token: Option<String>,
    /// `maxKeys`, 1 to 1000.
    pub(crate) max_keys: Option<u32>,
}

impl Listing {
    /// The library's parameters for this page of `prefix`.
    pub(crate) fn params<'a>(&'a self, prefix: &'a str) -> ListParams<'a> {
        ListParams {
            prefix,
            start_after: self.start_after.as_deref(),
            continuation_token: self.continuation_token.as_deref(),
            max_keys: self.max_keys,
        }
    }
}

/// The deployment's rules for a listing of `prefix`, in the order a client or an operator
/// fixes them: `LIST` in `PRESIGN_METHODS`; a URL whose signature binds the prefix, or keys
/// whose session policy confines listing to it (`confined_by_policy`: signed under
/// `ROLE_ARN`); a `startAfter` under the prefix.
pub(crate) fn check(
    listing: &Listing,
    prefix: &str,
    settings: &PresignSettings,
    confined_by_policy: bool,
) -> Result<(), ApiError> {
    if !settings.methods.allows("LIST") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MethodNotPermitted",
            "this deployment does not presign listings (LIST is not in PRESIGN_METHODS)",
        ));
    }
    if !settings.scheme.signs_listing_prefix() && !confined_by_policy {
        // OSS V1 does not sign `prefix`: the URL would list any prefix it were rewritten to.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ListingNotBound",
            "an OSS V1 signature does not cover the listing's prefix; this deployment lists only with SIGNATURE_VERSION=v4, or with ROLE_ARN set",
        ));
    }
    if let Some(start_after) = &listing.start_after
        && !start_after.starts_with(prefix)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KeyOutsidePrefix",
            format!("startAfter must start with your prefix {prefix:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use stsvend_host::Config;

    use super::*;

    fn settings(extra: &[(&'static str, &str)]) -> PresignSettings {
        let mut vars = HashMap::from([
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test".to_owned()),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret".to_owned()),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
            ("AUTH_MODE", "none".to_owned()),
        ]);
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        PresignSettings::load(&config).expect("settings")
    }

    fn page(start_after: Option<&str>) -> Listing {
        Listing {
            start_after: start_after.map(str::to_owned),
            continuation_token: None,
            max_keys: None,
        }
    }

    fn code(result: Result<(), ApiError>) -> Option<(u16, String)> {
        result
            .err()
            .map(|e| (e.status.as_u16(), e.code.into_owned()))
    }

    #[test]
    fn a_listing_is_refused_where_nothing_confines_it_to_the_prefix() {
        let prefix = "uploads/alice/";
        let v1 = settings(&[("SIGNATURE_VERSION", "v1")]);
        assert_eq!(
            code(check(&page(None), prefix, &v1, false)),
            Some((403, "ListingNotBound".to_owned()))
        );
        assert_eq!(code(check(&page(None), prefix, &v1, true)), None);
        let v4 = settings(&[]);
        assert_eq!(code(check(&page(None), prefix, &v4, false)), None);
        let s3 = settings(&[
            ("PROVIDER", "aws"),
            ("AWS_ACCESS_KEY_ID", "AKIA-test"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        assert_eq!(code(check(&page(None), prefix, &s3, false)), None);
    }

    #[test]
    fn start_after_lies_under_the_prefix_and_list_must_be_permitted() {
        let prefix = "uploads/alice/";
        let v4 = settings(&[]);
        for inside in ["uploads/alice/", "uploads/alice/b.png"] {
            assert_eq!(code(check(&page(Some(inside)), prefix, &v4, false)), None);
        }
        for outside in ["uploads/bob/a.png", "uploads/alice", "a"] {
            assert_eq!(
                code(check(&page(Some(outside)), prefix, &v4, false)),
                Some((403, "KeyOutsidePrefix".to_owned())),
                "{outside}"
            );
        }
        let no_list = settings(&[("PRESIGN_METHODS", "GET,PUT")]);
        assert_eq!(
            code(check(&page(None), prefix, &no_list, true)),
            Some((403, "MethodNotPermitted".to_owned()))
        );
    }
}
