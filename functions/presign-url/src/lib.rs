//! presign-url: presigned URLs and form-upload policies for one object under the caller's
//! prefix.
//!
//! The binary is wiring only (`main.rs`); this library holds the handler, so that the fuzz
//! targets in `fuzz/` drive the same code the function runs.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod answer;
mod cdn;
mod checks;
mod companion;
mod handler;
mod listing;
mod parts;
mod process;
mod profile;
mod quota;
mod request;
mod settings;
mod upload;

pub use handler::{AppState, handle};
