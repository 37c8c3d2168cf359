//! AWS: SigV4, STS `AssumeRole` and S3 (and S3-compatible stores).

pub mod s3;
pub mod sigv4;
pub mod sts;
