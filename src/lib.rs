//! stsvend: short-lived, least-privilege credentials and presigned URLs, so that mobile and
//! browser apps upload straight to object storage with no app server in the data path and no
//! long-lived key on the device.
//!
//! This crate is the library the function binaries share: what one caller may reach and the
//! credentials for it. Its layers are private modules whose dependencies point one way (a
//! layer names only those to its left: base ← sign ← keyless ← vend; base ← identity), and
//! what the functions use is re-exported here, at the root:
//!
//! - the base types of the signing crate `stsvend-sign` ([`Error`], [`Clock`] (the one
//!   clock), [`Credential`], [`Provider`], [`SignedRequest`]), and the crate itself as
//!   [`sign`]: sans-IO signing, whose dependency tree has no tokio, hyper, reqwest or
//!   lambda_http;
//! - who is asking, once established ([`Caller`]), and the one network seam
//!   ([`HttpSender`]);
//! - keyless: the function's own credentials ([`CredentialProvider`], [`CredentialSource`],
//!   [`start`]): which source the environment names (one file per source), the credential
//!   held and refreshed, the key handed to an invocation, cold start;
//! - vend: what one caller may reach ([`PrefixTemplate`], [`check_key`], [`PolicyTemplate`],
//!   [`Stamp`], [`role_session_name`]) and getting credentials for it ([`CredentialCache`],
//!   [`CachedRole`]);
//! - identity: who is asking ([`Authenticator`]: gateway claims, [`jwt`] verification, JWKS
//!   fetching).
//!
//! Running a binary (the Lambda and HTTP hosts, configuration, answers, CORS) is the crate
//! `stsvend-host` (`crates/host`), above this one.
//!
//! Signing code never reads the clock or a random source: the instant and the nonce are
//! arguments (the signing crate's own documentation signs Alibaba's published `AssumeRole`
//! example).

// Tests read better whole: a table of cases, or one scenario from start to end.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub use stsvend_sign as sign;
#[cfg(any(test, feature = "test-util"))]
pub use stsvend_sign::FixedClock;
pub use stsvend_sign::{
    Clock, Credential, Error, Provider, SignedRequest, StsRejection, SystemClock, format_iso8601,
    parse_iso8601, source_chain, unix_seconds,
};

mod caller;
mod identity;
mod keyless;
mod transport;
mod vend;

pub use caller::{ANONYMOUS, Caller};
pub use identity::{
    AuthMode, Authenticator, JWKS_FIRST_RETRY, JWKS_REFETCH_INTERVAL, JwtSettings, jwt,
};
pub use keyless::*;
#[cfg(any(test, feature = "test-util"))]
pub use transport::CannedSender;
pub use transport::{
    BoxFuture, HttpReply, HttpSender, MAX_REPLY_BYTES, ReqwestSender, retry_after_seconds,
};
pub use vend::*;
