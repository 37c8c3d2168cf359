//! The library's integration tests, one module per concern, in one test binary; what they
//! share with the functions' tests (token makers, the committed events) is
//! `stsvend_test_support`.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![allow(clippy::too_many_lines)]

mod credential_chains;
mod gateway;
mod jwt;
mod layering;
mod properties;
