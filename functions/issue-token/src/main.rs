//! issue-token: vends short-lived STS credentials scoped to the caller's prefix.
//!
//! Wiring only; the work is in [`handler`].

mod handler;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stsvend_host::serve_function(handler::AppState::new, handler::handle).await
}
