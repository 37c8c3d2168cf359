//! stsvend's hosts: what runs a function binary. The Lambda runtime, or a plain HTTP/1.1
//! server (local use, tests, containers, Alibaba Cloud Function Compute).
//!
//! Both serve the same handler, an ordinary async function from a `Request` to a
//! `Response`. In HTTP mode each request is turned into the same `lambda_http::Request` a
//! Lambda event would give, with the query string parsed from the URI.
//!
//! A function's `main.rs` calls [`serve_function`] (or [`serve_function_with_events`]) with
//! its state builder and handler; its handler answers with [`response`]'s JSON and maps its
//! errors once through [`ApiError`]; its settings are read at cold start from [`Config`] with
//! the typed readers of [`Env`] ([`config`]).
//!
//! By subsystem, each a private module unless a function needs its names: `serve.rs` starts a
//! function (configuration, state, which host); `http/` is the HTTP/1.1 server and how it
//! shares its connections; [`log`] is logging (and the escaping of what callers chose);
//! [`config`], `cors.rs`, [`json`] and [`response`] are what every function shares; [`quota`]
//! asks the quota store (grant rates, reservations, settling) for the functions that count. The
//! function's own credentials (their source, refresh, cold start and Function Compute's
//! per-invocation key) are the library's (`stsvend`'s keyless room).

pub mod config;
mod cors;
mod http;
pub mod json;
pub mod log;
pub mod quota;
pub mod response;
mod serve;

pub use self::config::{CallbackSettings, Config, Env};
pub use self::http::{MAX_BODY_BYTES, run};
pub use self::response::ApiError;
pub use self::serve::{EventAnswer, serve_function, serve_function_with_events};
