//! stsvend's signing, built without I/O: canonical forms, signatures, request builders and
//! answer parsers for OSS, STS and S3, and the base types they share ([`Error`], [`Clock`],
//! [`Credential`], [`Provider`], [`SignedRequest`]). A crate of its own, so that the promise is the
//! compiler's: its dependency tree has no tokio, hyper, reqwest or lambda_http (`cargo tree
//! -p stsvend-sign` shows it). Nothing here reads the clock or draws a random number: the
//! instant and the STS nonce are arguments. The library `stsvend` re-exports it as
//! `stsvend::sign` (and the base types at its root).
//!
//! The public face is what a function needs: the types and functions below, re-exported at
//! this root, and one module per provider, [`aliyun`] and [`aws`], whose protocols (STS, the
//! store's presigning, OSS's callback) keep their own names. The modules that hold them are
//! private.
//!
//! This signs the STS `AssumeRole` example from Alibaba Cloud's documentation and gets its
//! published signature:
//!
//! ```
//! use stsvend_sign::aliyun::rpc;
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

mod credential;
mod encode;
mod endpoint;
mod error;
mod listing;
mod object;
mod parts;
mod presign;
mod provider;
mod request;
mod signing_key;
mod time;
mod v4;
mod webhook;

pub mod aliyun;
pub mod aws;

pub use credential::Credential;
pub use encode::{
    Decoding, RFC3986_PATH, RFC3986_UNRESERVED, hex_lower, percent_decode, percent_encode,
};
pub use endpoint::{
    Addressing, Endpoint, HostRules, OSS_HOSTS, S3_HOSTS, plain_http_allowed, upstream_origin,
};
pub use error::{Error, StsRejection, source_chain};
pub use listing::{ListParams, MAX_KEYS};
pub use object::{KeyCondition, ObjectRequest, PostParams, UrlParams};
pub use presign::{Presigner, Scheme};
pub use provider::Provider;
pub use request::SignedRequest;
pub use signing_key::SigningKeyCache;
#[cfg(any(test, feature = "test-util"))]
pub use time::FixedClock;
pub use time::{Clock, SystemClock, format_iso8601, parse_iso8601, unix_seconds};
pub use v4::{AWS4, Flavor, OSS4};
pub use webhook::WebhookSecret;
