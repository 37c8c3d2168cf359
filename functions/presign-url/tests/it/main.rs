//! presign-url's integration tests, one module per concern, in one test binary; what they
//! share (the stand-in STS, the binary runner, tokens, awkward keys) is
//! `stsvend_test_support`.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![allow(clippy::too_many_lines)]

mod cdn;
mod cloudfront;
mod corpus;
mod fuzz_corpora;
mod identity;
mod listing;
mod log_lines;
mod parts;
mod per_caller;
mod profiles;
mod quotas;
mod s3s_fs;
mod upload_rules;
