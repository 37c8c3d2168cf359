//! The two hosts a function binary runs under: the Lambda runtime, or a plain HTTP/1.1
//! server (local use, tests, containers, Alibaba Cloud Function Compute).
//!
//! Both serve the same handler, an ordinary async function from a `Request` to a
//! `Response`. In HTTP mode each request is turned into the same `lambda_http::Request` a
//! Lambda event would give, with the query string parsed from the URI.
//!
//! By subsystem: `serve.rs` starts a function (configuration, state, which host);
//! [`http`] is the HTTP/1.1 server and how it shares its connections; `log.rs` is logging
//! (and the escaping of what callers chose); [`config`], [`cors`], [`json`] and [`response`]
//! are what every function shares. The function's own credentials (their source, refresh,
//! cold start and Function Compute's per-invocation key) are [`crate::keyless`]'s.

pub mod config;
pub mod cors;
pub mod http;
pub mod json;
pub mod log;
pub mod response;
mod serve;

pub use self::http::{
    Handler, MAX_BODY_BYTES, MAX_HEAD_BYTES, MAX_HEADERS, run, serve_http, serve_http_with,
};
pub use self::log::init_logging;
pub use self::serve::{EventAnswer, in_lambda, serve_function, serve_function_with_events};
