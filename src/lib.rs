//! stsvend: short-lived, least-privilege credentials and presigned URLs, so that mobile and
//! browser apps upload straight to object storage with no app server in the data path and no
//! long-lived key on the device.
//!
//! This crate is the library the function binaries share, in layers whose dependencies point
//! one way (a layer names only those to its left: base ← [`sign`] ← [`keyless`] ← [`vend`];
//! base ← [`identity`]; all of them ← [`host`]):
//!
//! - base: [`error`], [`time`] (the one clock), [`credential`], [`provider`], [`caller`] and
//!   [`transport`] (the one network seam);
//! - [`sign`]: sans-IO signing: the V4 skeleton, OSS V1/V4 and S3 presigning, form policies,
//!   the presign dispatch, STS requests and answers; it never names tokio, hyper, reqwest or
//!   lambda_http (a test checks);
//! - [`keyless`]: the function's own credentials: which source the environment names (one file
//!   per source), the credential held and refreshed, the key handed to an invocation, cold
//!   start;
//! - [`vend`]: what one caller may reach (prefix, key rules, policy templates, session names)
//!   and getting credentials for it (STS client, cache);
//! - [`identity`]: who is asking (gateway claims, JWT verification, JWKS fetching);
//! - [`host`]: running a binary: the Lambda and HTTP hosts, configuration, answers, CORS.
//!
//! Signing code never reads the clock or a random source: the instant and the nonce are
//! arguments. This signs the STS `AssumeRole` example from Alibaba Cloud's documentation and
//! gets its published signature:
//!
//! ```
//! use stsvend::sign::aliyun::rpc;
//!
//! let params = [
//!     ("AccessKeyId", "testid"),
//!     ("Action", "AssumeRole"),
//!     ("Format", "JSON"),
//!     ("RoleArn", "acs:ram::1234567890123:role/firstrole"),
//!     ("RoleSessionName", "client"),
//!     ("SignatureMethod", "HMAC-SHA1"),
//!     ("SignatureNonce", "571f8fb8-506e-11e5-8e12-b8e8563dc8d2"),
//!     ("SignatureVersion", "1.0"),
//!     ("Timestamp", "2015-09-01T05:57:34Z"),
//!     ("Version", "2015-04-01"),
//! ];
//! let canonical = rpc::canonicalized_query_string(&params);
//! let string_to_sign = rpc::string_to_sign("GET", &canonical);
//! assert_eq!(rpc::signature("testsecret", &string_to_sign), "gNI7b0AyKZHxDgjBGPDgJ1Ce3L4=");
//! ```

// Tests read better whole: a table of cases, or one scenario from start to end.
#![cfg_attr(test, allow(clippy::too_many_lines))]

pub mod caller;
pub mod credential;
pub mod error;
pub mod host;
pub mod identity;
pub mod keyless;
pub mod provider;
pub mod sign;
pub mod time;
pub mod transport;
pub mod vend;
