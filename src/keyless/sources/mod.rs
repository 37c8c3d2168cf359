//! The sources of the function's own credentials, one file each: [`CredentialSource`] names
//! them, [`fetch`] sends one fetch to its source's file, and what the sources share is here:
//! the environment as the host lends it ([`Variables`]), the checks of a URL and a readable
//! file, a token file read and a request sent through the one sender.

pub(crate) mod container;
pub(crate) mod credentials_uri;
pub(crate) mod function_compute;
pub(crate) mod instance_metadata;
pub(crate) mod profile;
pub(crate) mod static_keys;
pub(crate) mod web_identity;

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

pub use self::container::Authorization;
pub use self::web_identity::TokenExchange;
use crate::Credential;
use crate::Error;
use crate::transport::{HttpReply, HttpSender, SignedRequest};

/// Where the function's own credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A key given as is: the environment, a profile file, a seed `config.json`. Used as given.
    Static {
        /// The key (and its security token, when temporary).
        credential: Credential,
        /// Where it was read, for the log (`environment`, `~/.aliyun/config.json`, ...).
        origin: String,
    },
    /// AWS EC2 instance metadata (IMDSv2), the instance profile's role.
    AwsInstanceMetadata {
        /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else `http://169.254.169.254`.
        endpoint: String,
    },
    /// AWS container credentials (ECS task role, EKS Pod Identity).
    AwsContainer {
        /// The full URI (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, or ECS's host and the relative URI).
        url: String,
        /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every fetch) or the token itself.
        authorization: Option<Authorization>,
    },
    /// AWS web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`): EKS IRSA.
    AwsWebIdentity(TokenExchange),
    /// Alibaba Cloud ECS/ECI instance RAM role, through the metadata service's hardened mode.
    AliyunEcsRamRole {
        /// `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT`, else `http://100.100.100.200`.
        endpoint: String,
        /// `ALIBABA_CLOUD_ECS_METADATA`; asked of the metadata service when unset.
        role: Option<String>,
    },
    /// Alibaba Cloud RRSA (`ALIBABA_CLOUD_OIDC_TOKEN_FILE`, ...): ACK's OIDC token exchanged
    /// with `AssumeRoleWithOIDC`.
    AliyunOidc {
        /// The token file, role and session.
        exchange: TokenExchange,
        /// `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`.
        oidc_provider_arn: String,
    },
    /// Alibaba Cloud credentials URI (`ALIBABA_CLOUD_CREDENTIALS_URI`).
    AliyunCredentialsUri {
        /// The URI.
        uri: String,
    },
    /// None: `STS_ACTION` exchanges each caller's token, and no source was named.
    Unneeded,
}

impl CredentialSource {
    /// The source in the provider's words, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Static { .. } => "a static key",
            Self::AwsInstanceMetadata { .. } => "EC2 instance metadata (IMDSv2)",
            Self::AwsContainer { .. } => "container credentials",
            Self::AwsWebIdentity(_) => "web identity (AssumeRoleWithWebIdentity)",
            Self::AliyunEcsRamRole { .. } => "ECS RAM role (metadata, hardened mode)",
            Self::AliyunOidc { .. } => "RRSA (AssumeRoleWithOIDC)",
            Self::AliyunCredentialsUri { .. } => "ALIBABA_CLOUD_CREDENTIALS_URI",
            Self::Unneeded => "none (STS_ACTION exchanges the caller's token)",
        }
    }

    /// The key itself, for a [`CredentialSource::Static`] source.
    pub fn static_credential(&self) -> Option<&Credential> {
        match self {
            Self::Static { credential, .. } => Some(credential),
            _ => None,
        }
    }

    /// Whether its credentials are a role's session: AWS then caps a chained `AssumeRole`
    /// at one hour.
    pub fn is_role_session(&self) -> bool {
        match self {
            Self::Static { credential, .. } => credential.security_token.is_some(),
            Self::Unneeded => false,
            _ => true,
        }
    }
}

/// Fetches `source`'s current credentials, at `now`, from its source's file.
pub(crate) async fn fetch(
    source: &CredentialSource,
    sender: &Arc<dyn HttpSender>,
    now: SystemTime,
) -> Result<Credential, Error> {
    let name = source.name();
    match source {
        CredentialSource::Static { credential, .. } => Ok(credential.clone()),
        CredentialSource::Unneeded => Err(Error::CredentialSource {
            source_name: name,
            reason: "the function has no credentials of its own".to_owned(),
        }),
        CredentialSource::AwsInstanceMetadata { endpoint } => {
            instance_metadata::fetch_aws(endpoint, sender, name).await
        }
        CredentialSource::AwsContainer { url, authorization } => {
            container::fetch(url, authorization.as_ref(), sender, name).await
        }
        CredentialSource::AwsWebIdentity(exchange) => {
            web_identity::fetch_aws(exchange, sender, name).await
        }
        CredentialSource::AliyunEcsRamRole { endpoint, role } => {
            instance_metadata::fetch_aliyun(endpoint, role.as_deref(), sender, name).await
        }
        CredentialSource::AliyunOidc {
            exchange,
            oidc_provider_arn,
        } => web_identity::fetch_aliyun(exchange, oidc_provider_arn, sender, now, name).await,
        CredentialSource::AliyunCredentialsUri { uri } => {
            credentials_uri::fetch(uri, sender, name).await
        }
    }
}

/// The environment as the chains and the sources read it: the host's typed readers
/// (`Env` in the host crate, `crates/host/src/config/env.rs`), lent, so that every variable still goes through them.
#[derive(Clone, Copy)]
pub struct Variables<'a> {
    text: &'a dyn Fn(&str) -> Option<String>,
    flag: &'a dyn Fn(&'static str, bool) -> Result<bool, Error>,
}

impl<'a> Variables<'a> {
    /// The readers lent: `text` a variable's value when set and not empty, `flag` `true` or
    /// `false` (or the default when unset), another value an error naming the variable.
    pub fn new(
        text: &'a dyn Fn(&str) -> Option<String>,
        flag: &'a dyn Fn(&'static str, bool) -> Result<bool, Error>,
    ) -> Self {
        Self { text, flag }
    }

    /// The value, when set and not empty.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        (self.text)(name)
    }

    /// `true` or `false`, or `default` when unset.
    pub(crate) fn flag(&self, name: &'static str, default: bool) -> Result<bool, Error> {
        (self.flag)(name, default)
    }

    /// The value, or an error naming it with `hint`.
    pub(crate) fn required(&self, name: &'static str, hint: &str) -> Result<String, Error> {
        self.text(name).ok_or_else(|| config(name, hint))
    }
}

/// A configuration error naming `variable`.
pub(crate) fn config(variable: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        variable,
        reason: reason.into(),
    }
}

/// An http(s) URL with something after the scheme, or an error naming `variable`.
pub(crate) fn check_url(variable: &'static str, url: &str) -> Result<(), Error> {
    let ok = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(config(variable, "is not an http:// or https:// URL"))
    }
}

/// A file that can be read at cold start, or an error naming `variable`.
pub(crate) fn check_readable(variable: &'static str, path: &str) -> Result<(), Error> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| config(variable, format!("cannot read {path}: {e}")))
}

/// A token file's content, trimmed (the platform rewrites it as it rotates the token).
pub(crate) fn read_token(path: &Path, name: &'static str) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::CredentialSource {
        source_name: name,
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::CredentialSource {
            source_name: name,
            reason: format!("{} is empty", path.display()),
        });
    }
    Ok(token.to_owned())
}

/// Sends `request` for the source `name`; a failure is that source's error.
pub(crate) async fn send(
    sender: &Arc<dyn HttpSender>,
    request: SignedRequest,
    name: &'static str,
) -> Result<HttpReply, Error> {
    sender
        .send(request)
        .await
        .map_err(|e| Error::CredentialSource {
            source_name: name,
            reason: match e.sts_copy() {
                Some(Error::StsUnreachable(cause)) => format!("unreachable: {cause}"),
                _ => e.to_string(),
            },
        })
}
