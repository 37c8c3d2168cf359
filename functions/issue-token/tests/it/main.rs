//! issue-token's integration tests, one module per concern, in one test binary; what they
//! share (the stand-in STS, the binary runner, tokens) is `stsvend_test_support`.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![allow(clippy::too_many_lines)]

mod aws_keyless;
mod aws_sts;
mod flood;
mod function_compute;
mod http_mode;
mod jwt_mode;
mod keyless;
mod lambda_mode;
mod mobile_contract;
mod per_caller;
mod profiles;
