//! HTTP mode: a plain HTTP/1.1 server (hyper) that turns each request into the
//! `lambda_http::Request` a Lambda event would give, within the limits of `listener.rs`.

pub(crate) mod listener;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use lambda_http::{Body, Request, Response, service_fn};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use crate::http::listener::{
    AcceptBackoff, Admission, Limits, Refusal, Refusals, Registry, Slot, Tracked, Watched,
    is_connection_error,
};
use crate::response;
use crate::serve::in_lambda;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most a request's head (request line, headers and the blank line that ends them) may
/// take, in bytes, however it arrives; more is 431. Room for an 8 KiB bearer token and
/// ordinary headers.
pub(crate) const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The most header lines a request may have (`Host` counts); more is 431.
pub(crate) const MAX_HEADERS: usize = 100;

/// How long a client may take to send its request headers: on a new connection, from when
/// it is accepted (and the first byte must come within
/// [`FIRST_BYTE_TIMEOUT`](crate::http::listener::FIRST_BYTE_TIMEOUT)); on a kept-alive one, from
/// the previous answer, so that this is also how long it may stay idle.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send its request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What both hosts serve: an async function from a [`Request`] to its [`Response`], cloned
/// into every connection. Any `Fn(Request) -> impl Future<Output = Response<Body>>` that is
/// `Clone + Send + Sync + 'static` (with a `Send + 'static` future) is one.
pub trait Handler: Clone + Send + Sync + 'static {
    /// The answer to come.
    type Answer: Future<Output = Response<Body>> + Send + 'static;

    /// Answers `request`.
    fn answer(&self, request: Request) -> Self::Answer;
}

impl<H, F> Handler for H
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    type Answer = F;

    fn answer(&self, request: Request) -> F {
        self(request)
    }
}

/// Serves `handler` under the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, and
/// otherwise over HTTP on `listen` until SIGTERM or Ctrl-C (`listener::loopback_only`).
pub async fn run(listen: SocketAddr, handler: impl Handler) -> Result<(), lambda_http::Error> {
    if in_lambda() {
        info!("serving under the Lambda runtime");
        lambda_http::run(service_fn(move |request| {
            let answer = handler.answer(request);
            async move { Ok::<_, Infallible>(answer.await) }
        }))
        .await
    } else {
        let listener = TcpListener::bind(listen).await?;
        let handler = crate::http::listener::loopback_only(listen, handler);
        serve_http(listener, handler, shutdown_signal()).await?;
        Ok(())
    }
}

/// Serves `handler` over HTTP/1.1 on `listener` until `shutdown` completes, then lets
/// requests in flight finish (up to 10 s), with the connection limits for this process's
/// open-file limit ([`Limits::from_process`]).
pub(crate) async fn serve_http(
    listener: TcpListener,
    handler: impl Handler,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_http_with(listener, Limits::from_process(), handler, shutdown).await
}

/// [`serve_http`] with the given connection limits (see [`crate::http::listener`]).
pub(crate) async fn serve_http_with(
    listener: TcpListener,
    limits: Limits,
    handler: impl Handler,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    info!("listening on http://{}", listener.local_addr()?);
    info!(
        connections = limits.connections,
        per_address = limits.per_peer,
        "serving at most {} connections at once, {} from one address",
        limits.connections,
        limits.per_peer
    );
    let graceful = GracefulShutdown::new();
    let mut acceptor = Acceptor::new(listener, limits);
    tokio::pin!(shutdown);
    loop {
        let admitted = tokio::select! {
            admitted = acceptor.next() => admitted,
            () = &mut shutdown => break,
        };
        if let Some((stream, admission)) = admitted {
            spawn_connection(
                stream,
                admission,
                handler.clone(),
                &graceful,
                limits.first_byte,
            );
        }
    }
    drop(acceptor);
    info!("shutting down; finishing requests in flight");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
    Ok(())
}

/// The accept loop's side of HTTP mode: the listener, the connections' slots, the pause after
/// failed accepts and the count of refusals between two log lines.
struct Acceptor {
    listener: TcpListener,
    limits: Limits,
    registry: Arc<Registry>,
    backoff: AcceptBackoff,
    refusals: Refusals,
}

impl Acceptor {
    fn new(listener: TcpListener, limits: Limits) -> Self {
        Self {
            listener,
            limits,
            registry: Registry::new(limits),
            backoff: AcceptBackoff::default(),
            refusals: Refusals::default(),
        }
    }

    /// The next connection let in, or `None` when this turn gave none to serve (a connection
    /// gone before it was accepted, a failed accept and its pause, a connection refused with
    /// 503). Dropping the future midway loses nothing but the connection being admitted.
    async fn next(&mut self) -> Option<(TcpStream, Admission)> {
        let (stream, peer) = self.accept().await?;
        self.admit(stream, peer).await
    }

    /// Accepts one connection; after a failure other than the client's own, waits for the
    /// [`AcceptBackoff`] pause (file descriptors may be exhausted for a while).
    async fn accept(&mut self) -> Option<(TcpStream, SocketAddr)> {
        match self.listener.accept().await {
            Ok(accepted) => {
                if let Some(failures) = self.backoff.succeeded() {
                    info!(
                        failures,
                        "accepting connections again after {failures} failed accept(s)"
                    );
                }
                Some(accepted)
            }
            Err(e) if is_connection_error(&e) => {
                debug!(error = %e, "a connection was gone before it was accepted");
                None
            }
            Err(e) => {
                let (pause, starts) = self.backoff.failed();
                if starts {
                    warn!(
                        error = %e,
                        "accept failed; retrying after 10 ms, doubling to 1 s (one line per burst)"
                    );
                }
                tokio::time::sleep(pause).await;
                None
            }
        }
    }

    /// Gives `stream` a slot (closing an idle connection for room if it must), or answers it
    /// 503 and closes it; either way, counts what the limits did for the log.
    async fn admit(
        &mut self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TcpStream, Admission)> {
        match self.registry.admit(peer.ip()).await {
            Ok(admission) => {
                if admission.made_room {
                    self.note(None);
                }
                Some((stream, admission))
            }
            Err(refusal) => {
                debug!(%peer, ?refusal, "refused a connection: 503 TooManyConnections");
                refusal.answer(stream);
                self.note(Some(refusal));
                None
            }
        }
    }

    /// Counts a refusal (or, with `None`, a connection closed to make room) and logs the
    /// counts when a summary is due.
    fn note(&mut self, refusal: Option<Refusal>) {
        if self.refusals.note(refusal, tokio::time::Instant::now()) {
            log_refusals(&mut self.refusals, self.limits);
        }
    }
}

/// Serves one admitted connection in its own task, under `graceful`'s watch, with the header
/// and size limits of HTTP mode.
fn spawn_connection(
    stream: TcpStream,
    admission: Admission,
    handler: impl Handler,
    graceful: &GracefulShutdown,
    first_byte: Duration,
) {
    let Admission { tracked, slot, .. } = admission;
    let busy_tracked = Arc::clone(&tracked);
    let service = hyper::service::service_fn(move |request| {
        let handler = handler.clone();
        // Held until hyper drops the answer's body, having sent it.
        let busy = busy_tracked.busy();
        async move {
            let answer = answer_http(handler, request).await;
            Ok::<_, Infallible>(answer.map(|body| busy.until_sent(body)))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .serve_connection(
            TokioIo::new(Watched::new(stream, Arc::clone(&tracked))),
            service,
        );
    let connection = graceful.watch(connection);
    tokio::spawn(watch_connection(connection, tracked, slot, first_byte));
}

/// Runs `connection` until it ends, until the registry closes it to make room for another, or
/// until it has sent nothing within `first_byte`; then frees its slot.
async fn watch_connection(
    connection: impl Future<Output = Result<(), hyper::Error>>,
    tracked: Arc<Tracked>,
    slot: Slot,
    first_byte: Duration,
) {
    // Dropped last, after the socket: the slot is free only once the socket is closed.
    let _slot = slot;
    tokio::pin!(connection);
    let silence = tokio::time::sleep(first_byte);
    tokio::pin!(silence);
    let mut silent = true;
    loop {
        tokio::select! {
            served = &mut connection => {
                if let Err(e) = served {
                    debug!(error = %e, "connection closed with an error");
                }
                break;
            }
            () = tracked.closed_for_room() => {
                debug!("closed an idle connection to make room for a new one");
                break;
            }
            () = &mut silence, if silent => {
                if tracked.close_if_silent() {
                    debug!("closed a connection that sent nothing within {first_byte:?}");
                    break;
                }
                silent = false;
            }
        }
    }
}

/// Logs the refused and closed-for-room connections counted since the last such line.
fn log_refusals(refusals: &mut Refusals, limits: Limits) {
    warn!(
        over_per_address_limit = refusals.peer,
        all_slots_busy = refusals.full,
        closed_for_room = refusals.made_room,
        "connection limits reached ({} at once, {} from one address): refused {} over the per-address limit and {} with every slot busy (503 TooManyConnections), closed {} idle to make room; next summary in 10 s at the earliest",
        limits.connections,
        limits.per_peer,
        refusals.peer,
        refusals.full,
        refusals.made_room
    );
    refusals.logged(tokio::time::Instant::now());
}

/// Turns a hyper request into the `lambda_http::Request` a Lambda event would give, and
/// answers it.
async fn answer_http(handler: impl Handler, request: hyper::Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    // A request without a body (a GET, `Content-Length: 0`) has nothing to wait for: no
    // timer, no collecting.
    if body.is_end_stream() {
        return handler
            .answer(Request::from_parts(parts, Body::Empty))
            .await;
    }
    let read = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(body, MAX_BODY_BYTES).collect(),
    )
    .await;
    let Ok(read) = read else {
        return response::error(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            "the request body did not arrive within 10 s",
        );
    };
    let bytes = match read {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return response::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLarge",
                "the request body is larger than 64 KiB",
            );
        }
        Err(_) => {
            return response::error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the request body could not be read",
            );
        }
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    handler
        // No `query_string_parameters`: no function reads them (presign-url parses
        // `uri().query()` itself, the others take no query), so the query is not parsed twice.
        .answer(Request::from_parts(parts, body))
        .await
}

/// Completes on SIGTERM (how Lambda, Function Compute and containers stop a process) or
/// Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests;
