//! presign-url: presigned URLs and form-upload policies for one object under the caller's
//! prefix.
//!
//! Wiring only; the work is in the library ([`presign_url::handle`]).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stsvend_host::serve_function(presign_url::AppState::new, presign_url::handle).await
}
