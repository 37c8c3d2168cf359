//! AWS: SigV4, STS `AssumeRole`, S3 (and S3-compatible stores), and CloudFront's signed URLs
//! and cookies.

pub mod cloudfront;
pub mod s3;
pub mod sigv4;
pub mod sts;
