//! stsvend: short-lived, least-privilege credentials and presigned URLs, so that mobile and
//! browser apps upload straight to object storage with no app server in the data path and no
//! long-lived key on the device.
//!
//! This crate is the library the function binaries share, in layers whose dependencies point
//! one way (a layer names only those to its left: base ← [`sign`] ← [`keyless`] ← [`vend`];
//! base ← [`identity`]; all of them ← [`host`]):
//!
//! - base and [`sign`] are the crate `stsvend-sign` (`crates/sign`), re-exported here: the
//!   base types [`error`], [`time`] (the one clock), [`credential`], [`provider`], and sans-IO
//!   signing: the V4 skeleton, OSS V1/V4 and S3 presigning, form policies, the presign
//!   dispatch, STS requests and answers. Its dependency tree has no tokio, hyper, reqwest or
//!   lambda_http, so no code in it can do I/O;
//! - [`caller`] (who is asking, once established) and [`transport`] (the one network seam)
//!   are base too;
//! - [`keyless`]: the function's own credentials: which source the environment names (one file
//!   per source), the credential held and refreshed, the key handed to an invocation, cold
//!   start;
//! - [`vend`]: what one caller may reach (prefix, key rules, policy templates, session names)
//!   and getting credentials for it (STS client, cache);
//! - [`identity`]: who is asking (gateway claims, JWT verification, JWKS fetching);
//! - [`host`]: running a binary: the Lambda and HTTP hosts, configuration, answers, CORS.
//!
//! Signing code never reads the clock or a random source: the instant and the nonce are
//! arguments (the signing crate's own documentation signs Alibaba's published `AssumeRole`
//! example).

// Tests read better whole: a table of cases, or one scenario from start to end.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub use stsvend_sign as sign;
pub use stsvend_sign::{credential, error, provider, time};

pub mod caller;
pub mod host;
pub mod identity;
pub mod keyless;
pub mod transport;
pub mod vend;
