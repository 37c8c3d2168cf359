//! The two hosts a function binary runs under: the Lambda runtime, or a plain HTTP/1.1
//! server (local use, tests, containers, Alibaba Cloud Function Compute).
//!
//! Both serve the same handler, an ordinary async function from a [`Request`] to a
//! [`Response`]. In HTTP mode each request is turned into the same `lambda_http::Request` a
//! Lambda event would give, with the query string parsed from the URI.

pub mod config;
pub mod cors;
pub mod credentials;
pub mod json;
pub mod listener;
pub mod log;
pub mod response;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::LambdaRequest;
use lambda_http::{
    Adapter, Body, BoxFuture, LambdaEvent, Request, RequestExt, Response, Service, service_fn,
};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error, info, warn};

use crate::credential::Credential;
use crate::error::Error;
use crate::host::config::Config;
use crate::host::cors::Cors;
use crate::host::listener::{
    AcceptBackoff, Admission, Limits, Refusal, Refusals, Registry, Slot, Tracked, Watched,
    is_connection_error,
};
use crate::identity::AuthMode;
use crate::time::{Clock, SystemClock};
use crate::transport::{HttpSender, ReqwestSender};
use crate::vend::credentials::with_invocation_credential;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most a request's head (request line, headers and the blank line that ends them) may
/// take, in bytes, however it arrives; more is 431. Room for an 8 KiB bearer token and
/// ordinary headers.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// The most header lines a request may have (`Host` counts); more is 431.
pub const MAX_HEADERS: usize = 100;

/// How long a client may take to send its request headers: on a new connection, from when
/// it is accepted (and the first byte must come within
/// [`FIRST_BYTE_TIMEOUT`](crate::host::listener::FIRST_BYTE_TIMEOUT)); on a kept-alive one, from
/// the previous answer, so that this is also how long it may stay idle.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send its request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Whether this process was started by the Lambda runtime.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Starts logging to stdout, in both hosts. Which events: `AWS_LAMBDA_LOG_LEVEL` (Lambda's
/// advanced logging controls: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) when set,
/// for every target; otherwise the `RUST_LOG` directives; otherwise `info`. How: JSON lines
/// when `AWS_LAMBDA_LOG_FORMAT=JSON`, else tracing's plain lines, without time (Lambda and
/// Function Compute stamp each line) or target, as `lambda_http`'s default subscriber; either
/// way through [`log::layer`], which keeps every line one line with no raw control character,
/// whatever a call site logs.
///
/// Whatever those variables say, events below INFO from `lambda_runtime*` and `lambda_http`
/// targets are dropped, because they are where raw payloads go: `lambda_runtime` logs every
/// event it receives, headers and all (`Authorization: Bearer …` included), at TRACE ("raw
/// JSON event received from Lambda", `layers/api_response.rs`), and a streamed response's
/// headers at TRACE (`requests.rs`). Their INFO and more severe events name errors and request
/// ids only (a payload that fails to parse is logged as a fixed message, not its text), and
/// the invocation span (`requestId`, X-Ray trace id) is INFO, so it stays. The other crates
/// that log through `tracing` were checked too and need no rule: hyper is built without its
/// (unstable) `tracing` feature, so it emits nothing; hyper-util logs pool keys (scheme and
/// host), peer addresses and connection errors, never headers or bodies; reqwest and rustls
/// log through the `log` crate, which nothing forwards to this subscriber (tracing-subscriber's
/// `tracing-log` feature is off), and reqwest's wire dump (`connection_verbose`) is off.
/// Dropping by target and level, rather than matching messages, keeps the rule true when those
/// crates reword or add events.
pub fn init_logging() {
    use lambda_http::tracing::subscriber::filter::{LevelFilter, filter_fn};
    use lambda_http::tracing::subscriber::layer::SubscriberExt as _;
    use lambda_http::tracing::subscriber::util::SubscriberInitExt as _;
    use lambda_http::tracing::subscriber::{EnvFilter, registry};
    use tracing::{Level, Metadata};

    /// Whether an event or span may carry a raw payload (see above), so is never logged.
    fn may_carry_payload(metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        (target.starts_with("lambda_runtime") || target.starts_with("lambda_http"))
            && *metadata.level() > Level::INFO
    }

    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let lambda_level = var("AWS_LAMBDA_LOG_LEVEL").and_then(|level| {
        match level.trim().to_ascii_uppercase().as_str() {
            "FATAL" => Some(LevelFilter::ERROR),
            other => other.parse::<LevelFilter>().ok(),
        }
    });
    let wanted = match lambda_level {
        Some(level) => EnvFilter::default().add_directive(level.into()),
        None => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse_lossy(var("RUST_LOG").unwrap_or_default()),
    };
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.trim().eq_ignore_ascii_case("json"));
    // A second call (a test that starts a host twice) keeps the subscriber already set.
    let _ = registry()
        .with(wanted)
        .with(filter_fn(|metadata| !may_carry_payload(metadata)))
        .with(log::layer(json, std::io::stdout))
        .try_init();
}

/// Runs a function: reads the configuration, builds its state with `build` (the
/// configuration, the system clock and the one HTTP client), and serves `handle` under the
/// Lambda runtime or over HTTP. A configuration error stops start-up with exit code 2.
pub async fn serve_function<S, B, H, F>(build: B, handle: H) -> ExitCode
where
    S: Send + Sync + 'static,
    B: FnOnce(Config, Arc<dyn Clock>, Arc<dyn HttpSender>) -> Result<S, Error>,
    H: Fn(Arc<S>, Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let Some((_, listen, handler)) = start(build, handle, Callers::Identified).await else {
        return ExitCode::from(2);
    };
    finish(run(listen, handler).await)
}

/// What a function answers to a Lambda event that is not an HTTP request (an S3 event
/// notification): `Ok` with the invocation's answer, or `Err` with why the invocation failed,
/// so that the platform delivers the event again.
pub type EventAnswer = BoxFuture<'static, Result<serde_json::Value, String>>;

/// [`serve_function`] for a function that also takes platform events under the Lambda
/// runtime: an event that is not an API Gateway, Function URL or ALB request goes to
/// `on_event`. Only the platform writes the top-level event (a client's request arrives
/// inside one as its `body`), so no client can make its request an event. Over HTTP, every
/// request goes to `handle`.
pub async fn serve_function_with_events<S, B, H, F, E>(build: B, handle: H, on_event: E) -> ExitCode
where
    S: Send + Sync + 'static,
    B: FnOnce(Config, Arc<dyn Clock>, Arc<dyn HttpSender>) -> Result<S, Error>,
    H: Fn(Arc<S>, Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
    E: Fn(Arc<S>, serde_json::Value) -> EventAnswer + Clone + Send + Sync + 'static,
{
    // Its HTTP callers are OSS and Function Compute, which identify nobody: AUTH_MODE is moot.
    let Some((state, listen, handler)) = start(build, handle, Callers::Platform).await else {
        return ExitCode::from(2);
    };
    if !in_lambda() {
        return finish(run(listen, handler).await);
    }
    info!("serving under the Lambda runtime (HTTP requests and events)");
    // Events are read strictly (a member named twice is refused: `json::StrictValue`).
    let dispatch = move |event: LambdaEvent<json::StrictValue>| {
        let (handler, state, on_event) = (handler.clone(), Arc::clone(&state), on_event.clone());
        async move {
            let (json::StrictValue(payload), context) = event.into_parts();
            match serde_json::from_value::<LambdaRequest>(payload.clone()) {
                Ok(request) => {
                    let mut adapter = Adapter::from(service_fn(move |request| {
                        let answer = handler.answer(request);
                        async move { Ok::<_, Infallible>(answer.await) }
                    }));
                    let response = adapter.call(LambdaEvent::new(request, context)).await?;
                    Ok::<_, lambda_http::Error>(serde_json::to_value(response)?)
                }
                Err(_) => Ok(on_event(state, payload).await?),
            }
        }
    };
    finish(lambda_http::lambda_runtime::run(service_fn(dispatch)).await)
}

/// Who calls a function over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callers {
    /// Apps' users, identified by `AUTH_MODE` (issue-token, presign-url).
    Identified,
    /// The platform and the store, which sign their own requests (record-upload).
    Platform,
}

/// Reads the configuration and builds the state, with CORS around `handle`; `None` (logged)
/// on a configuration error.
async fn start<S, B, H, F>(
    build: B,
    handle: H,
    callers: Callers,
) -> Option<(Arc<S>, SocketAddr, impl Handler)>
where
    S: Send + Sync + 'static,
    B: FnOnce(Config, Arc<dyn Clock>, Arc<dyn HttpSender>) -> Result<S, Error>,
    H: Fn(Arc<S>, Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    init_logging();
    let started = async {
        let config = Config::from_env()?;
        announce(&config, callers);
        let (listen, cors) = (config.listen, Cors::new(&config.cors_allow_origins));
        // Function Compute hands each invocation the role's key (below); Lambda never does.
        let fc = config.function_compute() && !in_lambda();
        let sender: Arc<dyn HttpSender> = Arc::new(ReqwestSender::new(config.sts.timeout)?);
        credentials::start(&config, &sender, Arc::new(SystemClock)).await?;
        if config.sts.role_arn.is_some() {
            // Open the STS connection now, so that the first caller does not pay the handshakes.
            let (sender, url) = (Arc::clone(&sender), format!("{}/", config.sts.endpoint));
            tokio::spawn(async move { sender.warm_up(&url).await });
        }
        let state = build(config, Arc::new(SystemClock), sender)?;
        Ok::<_, Error>((Arc::new(state), listen, cors.map(Arc::new), fc))
    }
    .await;
    let (state, listen, cors, fc) = match started {
        Ok(started) => started,
        Err(e) => {
            error!("configuration error, not starting: {e}");
            return None;
        }
    };
    let served = Arc::clone(&state);
    let handler = move |request: Request| {
        let (state, cors, handle) = (Arc::clone(&served), cors.clone(), handle.clone());
        let handed = if fc {
            invocation_credential(&request)
        } else {
            None
        };
        let answer = async move {
            match cors {
                Some(cors) => cors.serve(request, |request| handle(state, request)).await,
                None => handle(state, request).await,
            }
        };
        async move {
            match handed {
                Some(credential) => with_invocation_credential(credential, answer).await,
                None => answer.await,
            }
        }
    };
    Some((state, listen, handler))
}

/// The function role's temporary key that Function Compute hands each invocation
/// (`x-fc-access-key-id`, `x-fc-access-key-secret`, `x-fc-security-token`), fresher than the
/// one the instance started with; `None` unless all three are there (Debian 11 and later
/// custom runtimes no longer send the token, and then the environment's key is used).
///
/// Read only under Function Compute ([`Config::function_compute`]), which generates these headers on every invocation and
/// accepts no request header starting with `x-fc-` from a client, so a client cannot choose
/// the key; and used for that invocation alone, never kept for another.
fn invocation_credential(request: &Request) -> Option<Credential> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Some(Credential::new(
        header("x-fc-access-key-id")?,
        header("x-fc-access-key-secret")?,
        Some(header("x-fc-security-token")?),
    ))
}

/// The exit code for how serving ended.
fn finish<E: std::fmt::Display>(served: Result<(), E>) -> ExitCode {
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says at start-up what a reader of the logs must know about this deployment.
fn announce(config: &Config, callers: Callers) {
    match &config.auth_mode {
        _ if callers == Callers::Platform => {}
        AuthMode::None => {
            warn!(
                "AUTH_MODE=none: every caller is anonymous and shares one prefix; never use this in production"
            );
        }
        AuthMode::Gateway if !in_lambda() => {
            warn!(
                "AUTH_MODE=gateway outside Lambda: no gateway attaches claims here, so every request gets 401"
            );
        }
        AuthMode::Gateway => {}
        AuthMode::Jwt(settings) => info!(
            issuer = %settings.expect.issuer,
            audience = %settings.expect.audience,
            "AUTH_MODE=jwt: callers must send a bearer token"
        ),
    }
    if !config.scope.object_prefix.is_per_caller() && config.auth_mode != AuthMode::None {
        warn!("OBJECT_PREFIX has no ${{sub}}: all callers share one prefix");
    }
}

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
/// otherwise over HTTP on `listen` until SIGTERM or Ctrl-C ([`listener::loopback_only`]).
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
        let handler = crate::host::listener::loopback_only(listen, handler);
        serve_http(listener, handler, shutdown_signal()).await?;
        Ok(())
    }
}

/// Serves `handler` over HTTP/1.1 on `listener` until `shutdown` completes, then lets
/// requests in flight finish (up to 10 s), with the connection limits for this process's
/// open-file limit ([`Limits::from_process`]).
pub async fn serve_http(
    listener: TcpListener,
    handler: impl Handler,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_http_with(listener, Limits::from_process(), handler, shutdown).await
}

/// [`serve_http`] with the given connection limits (see [`crate::host::listener`]).
pub async fn serve_http_with(
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
    let query: QueryMap = parts
        .uri
        .query()
        .map(|q| q.parse().unwrap_or_default())
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    handler
        .answer(Request::from_parts(parts, body).with_query_string_parameters(query))
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
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn serve_echo() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        serve_echo_with(Limits::from_process()).await
    }

    async fn serve_echo_with(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_http_with(
            listener,
            limits,
            |request: Request| async move {
                Response::new(Body::Text(format!("{} bytes", request.body().len())))
            },
            async move {
                let _ = stopped.await;
            },
        ));
        (address, stop)
    }

    /// Sends a GET on `stream` and reads the echo server's answer, leaving the connection open.
    async fn get_and_keep_alive(stream: &mut tokio::net::TcpStream) {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut answer = Vec::new();
        while !answer.ends_with(b"0 bytes") {
            let mut chunk = [0; 1024];
            let n = stream.read(&mut chunk).await.expect("read");
            assert_ne!(n, 0, "closed before answering");
            answer.extend_from_slice(&chunk[..n]);
        }
    }

    async fn exchange(address: SocketAddr, raw: &[u8]) -> String {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.write_all(raw).await.expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_finishes_is_408_after_10_seconds() {
        let (address, _stop) = serve_echo().await;
        let started = tokio::time::Instant::now();
        let answer = exchange(
            address,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("\"ErrorCode\":\"RequestTimeout\""),
            "{answer}"
        );
        assert_eq!(started.elapsed().as_secs(), BODY_READ_TIMEOUT.as_secs());
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_and_within_it_served() {
        let (address, _stop) = serve_echo().await;
        let small = exchange(
            address,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .await;
        assert!(
            small.starts_with("HTTP/1.1 200") && small.ends_with("5 bytes"),
            "{small}"
        );
        let big = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            MAX_BODY_BYTES + 1,
            "x".repeat(MAX_BODY_BYTES + 1)
        );
        let answer = exchange(address, big.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }

    #[tokio::test]
    async fn shutdown_finishes_requests_in_flight_and_takes_no_new_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // The handler says when it has the request, and answers only when released.
        let (started, mut has_started) = tokio::sync::mpsc::channel::<()>(1);
        let release = Arc::new(tokio::sync::Notify::new());
        let released = Arc::clone(&release);
        let server = tokio::spawn(serve_http(
            listener,
            move |_request: Request| {
                let (started, released) = (started.clone(), Arc::clone(&released));
                async move {
                    let _ = started.send(()).await;
                    released.notified().await;
                    Response::new(Body::Text("finished".to_owned()))
                }
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let in_flight = tokio::spawn(exchange(
            address,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ));
        has_started
            .recv()
            .await
            .expect("the request reached the handler");
        stop.send(()).expect("the server is running");
        // While that request is still unanswered, the listener closes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(address).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "still accepting connections after shutdown began"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !in_flight.is_finished(),
            "the request in flight was dropped"
        );
        release.notify_one();
        let answer = in_flight.await.expect("join");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("finished"),
            "{answer}"
        );
        server.await.expect("join").expect("a clean stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_reads_its_answer_gives_up_its_slot_after_10_seconds() {
        // One slot, and answers of 4 MiB: far more than the sockets' buffers hold.
        let limits = Limits {
            connections: 1,
            per_peer: 1,
            first_byte: Duration::from_secs(3),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_http_with(
            listener,
            limits,
            |_request: Request| async move { Response::new(Body::Binary(vec![b'x'; 4 << 20])) },
            async move {
                let _ = stopped.await;
            },
        ));
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("a small receive buffer");
        let mut reader_that_never_reads = socket.connect(address).await.expect("connect");
        reader_that_never_reads
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let close = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let head = |answer: &str| answer.lines().next().unwrap_or_default().to_owned();
        // The one slot is the stalled answer's...
        assert_eq!(
            head(&exchange(address, close).await),
            "HTTP/1.1 503 Service Unavailable"
        );
        // ...until its write has made no progress for 10 s.
        tokio::time::sleep(crate::host::listener::WRITE_STALL_TIMEOUT).await;
        assert_eq!(head(&exchange(address, close).await), "HTTP/1.1 200 OK");
        drop(reader_that_never_reads);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed_after_3_seconds() {
        let (address, _stop) = serve_echo().await;
        let started = tokio::time::Instant::now();
        let answer = exchange(address, b"").await;
        assert_eq!(answer, "", "closed without an answer");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_kept_alive_connection_is_closed_after_10_idle_seconds() {
        let (address, _stop) = serve_echo().await;
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        get_and_keep_alive(&mut stream).await;
        let idle = tokio::time::Instant::now();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
        assert_eq!(idle.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_starts_its_head_in_time_has_10_seconds_to_finish_it() {
        let (address, _stop) = serve_echo().await;
        let started = tokio::time::Instant::now();
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        tokio::time::sleep(Duration::from_secs(2)).await;
        stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        assert_eq!(String::from_utf8_lossy(&answer), "");
        assert_eq!(started.elapsed(), HEADER_READ_TIMEOUT);
    }

    /// Sends `raw` in pieces of `piece` bytes, ignoring a refusal to take more (the server
    /// may answer and close first), and reads the answer's status line.
    async fn status_for(address: SocketAddr, raw: &[u8], piece: usize) -> String {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        for chunk in raw.chunks(piece) {
            if stream.write_all(chunk).await.is_err() {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        answer.lines().next().unwrap_or("(closed)").to_owned()
    }

    #[tokio::test]
    async fn heads_are_served_up_to_32_kib_and_100_headers_and_431_beyond() {
        let (address, _stop) = serve_echo().await;
        // A head of exactly `total` bytes: request line, headers, the blank line.
        let head_of = |total: usize| {
            let bare = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: \r\n\r\n";
            let pad = "a".repeat(total - bare.len());
            let head = bare.replace("X-Pad: ", &format!("X-Pad: {pad}"));
            assert_eq!(head.len(), total);
            head
        };
        assert_eq!(MAX_HEAD_BYTES, 32_768);
        // However the head arrives: in one piece, or in pieces as a slow network brings it.
        for piece in [usize::MAX, 1000] {
            for (total, status) in [
                (MAX_HEAD_BYTES, "HTTP/1.1 200 OK"),
                (
                    MAX_HEAD_BYTES + 1,
                    "HTTP/1.1 431 Request Header Fields Too Large",
                ),
                // What used to get through when it came in one piece.
                (49_152, "HTTP/1.1 431 Request Header Fields Too Large"),
            ] {
                let got = status_for(address, head_of(total).as_bytes(), piece).await;
                assert_eq!(got, status, "a head of {total} bytes in pieces of {piece}");
            }
        }
        assert_eq!(MAX_HEADERS, 100);
        for (count, status) in [
            (MAX_HEADERS, "HTTP/1.1 200 OK"),
            (
                MAX_HEADERS + 1,
                "HTTP/1.1 431 Request Header Fields Too Large",
            ),
        ] {
            // Host and Connection count.
            let more: String = (2..count).map(|i| format!("X-H{i}: v\r\n")).collect();
            let head = format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{more}\r\n");
            let got = status_for(address, head.as_bytes(), usize::MAX).await;
            assert_eq!(got, status, "{count} headers");
        }
    }

    /// Connects from `source`, one of 127.0.0.0/8 (Linux routes all of it to lo), so that
    /// one test can be many clients.
    async fn connect_from(source: [u8; 4], address: SocketAddr) -> tokio::net::TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((source, 0)))
            .expect("bind a loopback source address");
        socket.connect(address).await.expect("connect")
    }

    /// What the server did with a connection that sent nothing, as seen without waiting: an
    /// answer and the close (`Some(answer)`), a close alone (`Some("")`), or nothing yet.
    fn seen(stream: &std::net::TcpStream) -> Option<String> {
        let mut answer = Vec::new();
        let mut chunk = [0; 1024];
        loop {
            match std::io::Read::read(&mut &*stream, &mut chunk) {
                Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(answer.is_empty(), "an answer without a close");
                    return None;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn to_std(stream: tokio::net::TcpStream) -> std::net::TcpStream {
        stream.into_std().expect("std socket")
    }

    /// A legitimate request from 127.0.0.1, answered within 1 s or never.
    async fn legitimate_request(address: SocketAddr) -> String {
        tokio::time::timeout(
            Duration::from_secs(1),
            exchange(
                address,
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            ),
        )
        .await
        .expect("the legitimate request was answered within 1 s")
    }

    fn is_too_many_connections(answer: &str) -> bool {
        answer.starts_with("HTTP/1.1 503 ")
            && answer.contains("retry-after: 1")
            && answer.contains(r#"{"StatusCode":503,"ErrorCode":"TooManyConnections","#)
    }

    // The flood stays silent: the first-byte deadline is long here, so that only the
    // connection limits decide what is closed, however slowly this test runs.
    const FLOOD_LIMITS: Limits = Limits {
        connections: 128,
        per_peer: 32,
        first_byte: Duration::from_secs(600),
    };

    #[tokio::test]
    async fn one_address_gets_its_share_of_connections_and_others_are_still_served() {
        let limits = Limits {
            connections: 1024,
            ..FLOOD_LIMITS
        };
        let (address, _stop) = serve_echo_with(limits).await;
        let mut flood = Vec::new();
        for _ in 0..300 {
            flood.push(connect_from([127, 0, 0, 2], address).await);
        }
        // All 300 are open (the kernel queued those not yet accepted) while this is asked.
        let answer = legitimate_request(address).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("0 bytes"),
            "{answer}"
        );
        // Accepted in order, before the legitimate one: the first 32 are held, the rest were
        // answered 503 and closed at once.
        let seen: Vec<Option<String>> = flood.into_iter().map(|s| seen(&to_std(s))).collect();
        assert!(seen[..32].iter().all(Option::is_none), "{:?}", &seen[..32]);
        for answer in &seen[32..] {
            let answer = answer.as_deref().unwrap_or("(still open)");
            assert!(is_too_many_connections(answer), "{answer}");
        }
    }

    #[tokio::test]
    async fn with_every_slot_taken_by_silent_connections_the_oldest_make_room() {
        let (address, _stop) = serve_echo_with(FLOOD_LIMITS).await;
        // 10 addresses, 40 connections each: 400, over the per-address limit (32) and, from
        // the fifth address on, over all slots (128).
        let mut flood = Vec::new();
        for source in 2..12 {
            for _ in 0..40 {
                flood.push(connect_from([127, 0, 0, source], address).await);
            }
        }
        let answer = legitimate_request(address).await;
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("0 bytes"),
            "{answer}"
        );
        let seen: Vec<Option<String>> = flood.into_iter().map(|s| seen(&to_std(s))).collect();
        let mut admitted = Vec::new();
        for (source, connections) in seen.chunks(40).enumerate() {
            // The last 8 of each address: over its limit.
            for answer in &connections[32..] {
                let answer = answer.as_deref().unwrap_or("(still open)");
                assert!(
                    is_too_many_connections(answer),
                    "address {source}: {answer}"
                );
            }
            admitted.extend(&connections[..32]);
        }
        // Each admission past 128 closed the oldest silent connection, without an answer:
        // the newest 127 are held (the legitimate request took the 128th slot).
        let (closed, held) = admitted.split_at(admitted.len() - 127);
        assert!(
            closed.iter().all(|c| c.as_deref() == Some("")),
            "{closed:?}"
        );
        assert!(held.iter().all(|c| c.is_none()), "{held:?}");
    }

    #[tokio::test]
    async fn kept_alive_connections_between_requests_make_room_after_silent_ones() {
        let (address, _stop) = serve_echo_with(Limits {
            connections: 2,
            ..FLOOD_LIMITS
        })
        .await;
        // A request answered on a connection kept alive, which then waits for the next.
        let kept_alive = |source| async move {
            let mut stream = connect_from(source, address).await;
            get_and_keep_alive(&mut stream).await;
            to_std(stream)
        };
        let older = kept_alive([127, 0, 0, 2]).await;
        let silent = to_std(connect_from([127, 0, 0, 3], address).await);
        // Both slots are taken: the silent connection makes room, though it is newer.
        let answer = legitimate_request(address).await;
        assert!(answer.ends_with("0 bytes"), "{answer}");
        assert_eq!(seen(&silent).as_deref(), Some(""), "the silent one closed");
        assert_eq!(seen(&older), None, "the kept-alive one still open");
        // With none silent, the oldest between requests makes room; never one whose
        // request is being answered (see the next test).
        let newer = kept_alive([127, 0, 0, 4]).await;
        let answer = legitimate_request(address).await;
        assert!(answer.ends_with("0 bytes"), "{answer}");
        assert_eq!(seen(&older).as_deref(), Some(""), "the older one closed");
        assert_eq!(seen(&newer), None, "the newer one still open");
    }

    #[tokio::test]
    async fn with_every_slot_answering_a_request_a_new_connection_gets_503_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (started, mut has_started) = tokio::sync::mpsc::channel::<()>(2);
        let release = Arc::new(tokio::sync::Notify::new());
        let released = Arc::clone(&release);
        tokio::spawn(serve_http_with(
            listener,
            Limits {
                connections: 2,
                ..FLOOD_LIMITS
            },
            move |_request: Request| {
                let (started, released) = (started.clone(), Arc::clone(&released));
                async move {
                    let _ = started.send(()).await;
                    released.notified().await;
                    Response::new(Body::Text("finished".to_owned()))
                }
            },
            std::future::pending(),
        ));
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let in_flight: Vec<_> = (0..2)
            .map(|_| tokio::spawn(exchange(address, request)))
            .collect();
        for _ in 0..2 {
            has_started
                .recv()
                .await
                .expect("a request reached the handler");
        }
        let refused = tokio::time::timeout(Duration::from_secs(10), exchange(address, request))
            .await
            .expect("answered at once");
        assert!(is_too_many_connections(&refused), "{refused}");
        assert!(refused.contains("busy"), "{refused}");
        release.notify_waiters();
        for request in in_flight {
            let answer = request.await.expect("join");
            assert!(answer.ends_with("finished"), "{answer}");
        }
    }
}
