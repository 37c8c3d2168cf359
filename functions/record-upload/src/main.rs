//! record-upload: verifies OSS upload callbacks and takes S3 / OSS bucket events, and tells
//! the app, with a signed webhook, what was uploaded and by whom.
//!
//! Wiring only; the work is in the library ([`record_upload::handle`],
//! [`record_upload::on_event`]).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    stsvend_host::serve_function_with_events(
        record_upload::AppState::new,
        record_upload::handle,
        record_upload::on_event,
    )
    .await
}
