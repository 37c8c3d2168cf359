//! record-upload: what was uploaded, and by whom.
//!
//! Three sources, one record:
//!
//! - OSS upload callbacks (HTTP POST from OSS), verified as OSS signs them and trusted for
//!   what they say of the object only with the tag presign-url pinned into them
//!   (`callback.rs`);
//! - S3 event notifications under the Lambda runtime, and OSS events from a Function Compute
//!   OSS trigger, which the platform authenticates (`events.rs`).
//!
//! Each upload's key must be one presign-url would sign (an object whose key is not is
//! attributed to nobody, and the app is told: `upload.rejected`); it is attributed to the
//! caller whose `OBJECT_PREFIX` holds it, its size, ETag and type are the store's
//! (`store.rs`: a signed `HEAD`, which a callback's claims must match), and it is logged and,
//! with `UPLOAD_WEBHOOK_URL`, delivered to the app as a Standard Webhooks message
//! (`record.rs`, `webhook.rs`). The binary is wiring only (`main.rs`); the fuzz targets drive
//! this library.

// Tests read better whole: a table of cases, or one scenario from start to end.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod callback;
mod detect;
mod enforce;
mod events;
mod handler;
mod keys;
mod quota;
mod reconcile;
mod record;
mod rules;
mod settings;
mod store;
mod webhook;

pub use events::{OssEvents, S3Event};
pub use handler::{AppState, handle, on_event};
pub use record::{Image, Record, Rejection, Source, rejection_id, webhook_id};
