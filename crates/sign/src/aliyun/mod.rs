//! Alibaba Cloud: STS (RPC signature v1), OSS, and CDN URL signing.

pub mod callback;
pub mod cdn;
pub mod oss;
pub mod rpc;
pub mod sts;
