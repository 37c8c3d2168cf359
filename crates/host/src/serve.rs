//! Starting a function: the configuration read and checked, its state built once, the
//! function's own credentials started, and the host chosen (the Lambda runtime, with or
//! without platform events, or HTTP).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, BoxFuture, LambdaEvent, Request, Response, Service, service_fn};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::cors::Cors;
use stsvend::{
    AuthMode, Clock, Error, HttpSender, ReqwestSender, StartParams, StsAction, SystemClock,
    invocation_credential, with_invocation_credential,
};

use crate::http::Handler;
use crate::http::run;
use crate::json;
use crate::log::init_logging;

/// Whether this process was started by the Lambda runtime.
pub(crate) fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
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
        let mut config = Config::from_env()?;
        announce(&config, callers);
        let (listen, cors) = (config.listen, Cors::new(&config.cors_allow_origins));
        // Function Compute hands each invocation the role's key (below); Lambda never does.
        let fc = config.function_compute() && !in_lambda();
        let sender: Arc<dyn HttpSender> = Arc::new(ReqwestSender::new(config.sts.timeout)?);
        let sts = &config.sts;
        let params = StartParams {
            provider: config.provider,
            signs_assume_role: sts.action == StsAction::AssumeRole,
            role_arn_set: sts.role_arn.is_some(),
            duration_seconds: sts.duration_seconds,
        };
        stsvend::start(&sts.credentials, params, &sender, Arc::new(SystemClock)).await?;
        if config.sts.role_arn.is_some() {
            // Open the STS connection now, so that the first caller does not pay the handshakes.
            let (sender, url) = (Arc::clone(&sender), format!("{}/", config.sts.endpoint));
            tokio::spawn(async move { sender.warm_up(&url).await });
        }
        if let Some(quota) = config.quota.as_mut() {
            // Reached once now: an unreachable store stops start-up naming QUOTA_STORE.
            quota
                .connect(&config.sts, Arc::clone(&sender), Arc::new(SystemClock))
                .await?;
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
            invocation_credential(request.headers())
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
