//! The two hosts a function binary runs under: the Lambda runtime, or a plain HTTP/1.1
//! server (local use, tests, containers, Alibaba Cloud Function Compute).
//!
//! Both serve the same handler, an ordinary async function from a [`Request`] to a
//! [`Response`]. In HTTP mode each request is turned into the same `lambda_http::Request` a
//! Lambda event would give, with the query string parsed from the URI.

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
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use tokio::net::TcpListener;
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::cors::Cors;
use crate::error::Error;
use crate::identity::AuthMode;
use crate::response;
use crate::time::{Clock, SystemClock};
use crate::transport::{HttpSender, ReqwestSender};

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The most a request's head (request line and headers) may take; more is 431. Room for an
/// 8 KiB bearer token and ordinary headers.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send its request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections served at once; further clients wait to be accepted.
pub const MAX_CONNECTIONS: usize = 4096;

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Whether this process was started by the Lambda runtime.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Starts logging to stdout: `RUST_LOG` (or Lambda's `AWS_LAMBDA_LOG_LEVEL`), default
/// `info`; `AWS_LAMBDA_LOG_FORMAT=JSON` for JSON lines.
pub fn init_logging() {
    lambda_http::tracing::init_default_subscriber();
}

/// Everything a function binary's `main` does: logging, configuration (exit status 2 when it
/// is wrong), the function's state from `build`, the start-up announcements, and [`run`].
pub async fn serve_function<S, B, H, F>(build: B, handle: H) -> ExitCode
where
    S: Send + Sync + 'static,
    B: FnOnce(Config, Arc<dyn Clock>, Arc<dyn HttpSender>) -> Result<S, Error>,
    H: Fn(Arc<S>, Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    init_logging();
    let started = Config::from_env().and_then(|config| {
        announce(&config);
        let (listen, cors) = (config.listen, Cors::new(&config.cors_allow_origins));
        let sender: Arc<dyn HttpSender> = Arc::new(ReqwestSender::new(config.sts_timeout)?);
        if config.role_arn.is_some() {
            // Open the STS connection now, so that the first caller does not pay the handshakes.
            let (sender, url) = (Arc::clone(&sender), format!("{}/", config.sts_endpoint));
            tokio::spawn(async move { sender.warm_up(&url).await });
        }
        let state = build(config, Arc::new(SystemClock), sender)?;
        Ok((Arc::new(state), listen, cors.map(Arc::new)))
    });
    let (state, listen, cors) = match started {
        Ok(started) => started,
        Err(e) => {
            error!("configuration error, not starting: {e}");
            return ExitCode::from(2);
        }
    };
    let served = run(listen, move |request| {
        let (state, cors, handle) = (Arc::clone(&state), cors.clone(), handle.clone());
        async move {
            match cors {
                Some(cors) => cors.serve(request, |request| handle(state, request)).await,
                None => handle(state, request).await,
            }
        }
    });
    match served.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says at start-up what a reader of the logs must know about this deployment.
fn announce(config: &Config) {
    match &config.auth_mode {
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
    if !config.object_prefix.is_per_caller() && config.auth_mode != AuthMode::None {
        warn!("OBJECT_PREFIX has no ${{sub}}: all callers share one prefix");
    }
}

/// Serves `handler` under the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, and
/// otherwise over HTTP on `listen` until SIGTERM or Ctrl-C.
pub async fn run<H, F>(listen: SocketAddr, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    if in_lambda() {
        info!("serving under the Lambda runtime");
        lambda_http::run(service_fn(move |request| {
            let answer = handler(request);
            async move { Ok::<_, Infallible>(answer.await) }
        }))
        .await
    } else {
        let listener = TcpListener::bind(listen).await?;
        serve_http(listener, handler, shutdown_signal()).await?;
        Ok(())
    }
}

/// Serves `handler` over HTTP/1.1 on `listener` until `shutdown` completes, then lets
/// requests in flight finish (up to 10 s).
pub async fn serve_http<H, F>(
    listener: TcpListener,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    info!("listening on http://{}", listener.local_addr()?);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let handler = handler.clone();
                let service = hyper::service::service_fn(move |request| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(answer_http(handler, request).await) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .max_buf_size(MAX_HEAD_BYTES)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
                        debug!(error = %e, "connection closed with an error");
                    }
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    info!("shutting down; finishing requests in flight");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        warn!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
    Ok(())
}

/// Turns a hyper request into the `lambda_http::Request` a Lambda event would give, and
/// answers it.
async fn answer_http<H, F>(handler: H, request: hyper::Request<Incoming>) -> Response<Body>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response<Body>>,
{
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
    handler(Request::from_parts(parts, body).with_query_string_parameters(query)).await
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_http(
            listener,
            |request: Request| async move {
                Response::new(Body::Text(format!("{} bytes", request.body().len())))
            },
            async move {
                let _ = stopped.await;
            },
        ));
        (address, stop)
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
}
