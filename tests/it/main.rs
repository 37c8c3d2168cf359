//! The library's integration tests, one module per concern, in one test binary; what they
//! share with the functions' tests (token makers, the committed events) is
//! `stsvend_test_support`.

mod credential_chains;
mod gateway;
mod jwt;
mod layering;
mod properties;
mod vectors;
