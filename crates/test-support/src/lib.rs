//! What the tests of stsvend's packages share: the smallest configuration ([`config`]), a
//! stand-in STS ([`sts`]), a runner for a function binary in HTTP mode ([`function`]) and
//! under a stand-in Lambda runtime ([`lambda`]), a minimal HTTP/1.1 client ([`http`]), JWT
//! makers ([`tokens`]), awkward object keys ([`keys`]), moto and the oracle SDKs' Python
//! ([`oracles`]), s3s-fs ([`s3s`]), the upload profiles file ([`profiles`]), and the committed API Gateway events ([`event`]).
//!
//! The binaries themselves are the tests' to name: a test passes
//! `env!("CARGO_BIN_EXE_<name>")` of its own package to [`function::Function::start`].

// Test tooling: a table of cases or a stand-in's whole request check reads better whole.
#![allow(clippy::too_many_lines)]

pub mod config;
pub mod function;
pub mod http;
pub mod keys;
pub mod lambda;
pub mod metadata;
pub mod oracles;
pub mod profiles;
pub mod s3s;
pub mod sts;
pub mod tokens;

use std::path::{Path, PathBuf};

/// `relative` in the workspace's root folder.
pub fn workspace_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The text of the committed Lambda event `events/<name>`.
pub fn event(name: &str) -> String {
    let path = workspace_path("events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
