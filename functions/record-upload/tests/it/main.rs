//! record-upload's integration tests, in one test binary: the real binary under a stand-in
//! Lambda runtime with S3 events (against s3s-fs for the store's word), and presign-url's
//! pinned callbacks through record-upload; quotas settled against s3s-fs in process.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![allow(clippy::too_many_lines)]

mod lambda_events;
mod pinned_callbacks;
mod profiles;
mod quotas;
mod store_word;
