//! S3 presigned URLs and POST policies (next).
