//! presign-url: presigned URLs and form-upload policies for one object under the caller's
//! prefix.
//!
//! Wiring only; the work is in [`handler`].

mod handler;
mod request;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stsvend::host::serve_function(handler::AppState::new, handler::handle).await
}
