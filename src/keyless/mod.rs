//! Keyless: the function's own credentials, without a long-lived key when the platform gives
//! the function a role (the README's "Keyless", `docs/src/keyless.md`).
//!
//! The room, in the order a cold start meets it:
//!
//! - `chain.rs`: which source the environment names, in each provider's official default
//!   chain's order;
//! - `sources/`: one file per source, each holding what choosing, fetching and parsing that
//!   source needs: `static_keys.rs` (environment and seed keys), `profile.rs` (the Alibaba CLI
//!   profile, `credentials.ini`, AWS's shared files), `web_identity.rs` (AWS web identity,
//!   Alibaba RRSA), `container.rs` (AWS container credentials), `instance_metadata.rs` (ECS RAM
//!   role, IMDSv2), `credentials_uri.rs` (Alibaba), and `function_compute.rs` (the key Function
//!   Compute hands each invocation); `sources/mod.rs` lists them ([`CredentialSource`]) and
//!   sends one fetch to its source;
//! - `answer.rs`: the credentials JSON the metadata services, container endpoints and
//!   credentials URIs answer with;
//! - `provider.rs`: the credential held and refreshed before it expires, one fetch shared by
//!   every waiting request, and the invocation's handed key ([`CredentialProvider`],
//!   [`with_invocation_credential`]);
//! - `start.rs`: cold start: the first fetch, the refresher, the warnings ([`start`]).
//!
//! Adding a source is adding a file in `sources/`, its variant in [`CredentialSource`] (with
//! its fetch in `sources/mod.rs`), and its place in `chain.rs`.
//!
//! Layering: this room names the base and [`crate::sign`] only; [`crate::vend`] (whose STS
//! client signs with [`CredentialProvider`]) and the host (the crate `stsvend-host`) name it. The sources never
//! name tokio, hyper, reqwest or lambda_http: they send through the one
//! [`HttpSender`](crate::transport::HttpSender), and the timers, tasks and task-local are
//! `provider.rs`'s.

mod answer;
mod chain;
mod provider;
mod sources;
mod start;

pub use self::chain::{aliyun_source, aws_source};
pub use self::provider::{
    CredentialProvider, invocation_fingerprint, refresh_margin, signing_margin,
    with_invocation_credential,
};
pub use self::sources::Variables;
pub use self::sources::function_compute::invocation_credential;
pub use self::sources::static_keys::SeedKey;
pub use self::sources::{Authorization, CredentialSource, TokenExchange};
pub use self::start::{AWS_ROLE_CHAINING_MAX_SECONDS, StartParams, start};
