//! Signing, built without I/O: canonical forms, signatures, request builders and answer
//! parsers. Nothing here names tokio, hyper, reqwest or lambda_http, reads the clock or draws
//! a random number: the instant and the STS nonce are arguments.

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
