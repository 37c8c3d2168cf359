//! AWS: SigV4, STS `AssumeRole` and S3 (and S3-compatible stores).

pub mod sigv4;
