//! AWS: SigV4, STS `AssumeRole`, S3 (and S3-compatible stores), CloudFront's signed URLs and
//! cookies, and DynamoDB's JSON API.

pub mod cloudfront;
pub mod dynamodb;
pub mod s3;
pub mod sigv4;
pub mod sts;
