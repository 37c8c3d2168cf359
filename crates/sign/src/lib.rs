//! stsvend's signing, built without I/O: canonical forms, signatures, request builders and
//! answer parsers for OSS, STS and S3, and the base types they share ([`error`], [`time`],
//! [`credential`], [`provider`], [`request`]). A crate of its own, so that the promise is the
//! compiler's: its dependency tree has no tokio, hyper, reqwest or lambda_http (`cargo tree
//! -p stsvend-sign` shows it). Nothing here reads the clock or draws a random number: the
//! instant and the STS nonce are arguments. The library `stsvend` re-exports it as
//! `stsvend::sign` (and the base types at its root).
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

pub mod credential;
pub mod error;
pub mod provider;
pub mod request;
pub mod time;

pub mod aliyun;
pub mod aws;
pub mod encode;
pub mod endpoint;
pub mod listing;
pub mod object;
pub mod parts;
pub mod presign;
pub mod signing_key;
pub mod v4;
pub mod webhook;
