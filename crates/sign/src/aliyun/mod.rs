//! Alibaba Cloud: STS (RPC signature v1) and OSS.

pub mod callback;
pub mod oss;
pub mod rpc;
pub mod sts;
