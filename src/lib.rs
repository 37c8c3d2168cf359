//! stsvend: short-lived, least-privilege credentials and presigned URLs, so that mobile and
//! browser apps upload straight to object storage with no app server in the data path and no
//! long-lived key on the device.
//!
//! This crate is the library both function binaries share:
//!
//! - signing, built without I/O: [`aliyun::rpc`] (RPC signature v1.0, HMAC-SHA1) and
//!   [`aliyun::sts`] (`AssumeRole` request and answer);
//! - who is asking ([`identity`]), where they may write ([`prefix`]) and what their token may
//!   do ([`policy`]);
//! - configuration read once at cold start ([`config`]), the answer shapes ([`response`]),
//!   the sender ([`transport`]) and the two hosts, Lambda and plain HTTP ([`host`]).
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

pub mod caller;
pub mod credential;
pub mod error;
pub mod host;
pub mod identity;
pub mod provider;
pub mod sign;
pub mod time;
pub mod transport;
pub mod vend;
