//! issue-token: vends short-lived STS credentials scoped to the caller's prefix.
//!
//! Wiring only: configuration, state and the host; the work is in [`handler`].

mod handler;

use std::process::ExitCode;
use std::sync::Arc;

use stsvend::config::Config;
use stsvend::host;
use stsvend::identity::AuthMode;
use stsvend::time::SystemClock;
use stsvend::transport::ReqwestSender;
use tracing::{error, warn};

#[tokio::main]
async fn main() -> ExitCode {
    host::init_logging();
    let state = match Config::from_env().and_then(|config| {
        let sender = ReqwestSender::new(config.sts_timeout)?;
        handler::AppState::new(config, Arc::new(SystemClock), Arc::new(sender))
    }) {
        Ok(state) => Arc::new(state),
        Err(e) => {
            error!("configuration error, not starting: {e}");
            return ExitCode::from(2);
        }
    };
    announce(state.config());
    let listen = state.config().listen;
    let served = host::run(listen, move |request| {
        let state = Arc::clone(&state);
        async move { handler::handle(&state, request).await }
    })
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says at start-up what a reader of the logs must know about this deployment.
fn announce(config: &Config) {
    match config.auth_mode {
        AuthMode::None => warn!(
            "AUTH_MODE=none: every caller is anonymous and shares one prefix; never use this in production"
        ),
        AuthMode::Gateway if !host::in_lambda() => warn!(
            "AUTH_MODE=gateway outside Lambda: no gateway attaches claims here, so every request gets 401"
        ),
        AuthMode::Gateway => {}
    }
    if !config.object_prefix.is_per_caller() && config.auth_mode != AuthMode::None {
        warn!("OBJECT_PREFIX has no ${{sub}}: all callers share one prefix");
    }
}
