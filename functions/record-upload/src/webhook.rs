//! Delivering records to the app: `POST` of `{"type":"upload.completed","timestamp","data"}`
//! (or `upload.rejected` for an object nobody is named for), signed per Standard Webhooks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::http::{HeaderName, Method};
use serde::Serialize;
use serde_json::{Value, json};
use stsvend::{HttpSender, SignedRequest, format_iso8601, unix_seconds};

use crate::enforce::ProfileRejection;
use crate::record::{Record, Rejection, rejection_id, webhook_id};
use crate::settings::WebhookSettings;

/// How long a delivery may take: inside OSS's 5-second callback budget, with room for the
/// store's `HEAD` ([`crate::store::HEAD_DEADLINE`]), the verification and the answer.
pub(crate) const DEADLINE: Duration = Duration::from_secs(3);

/// The app's webhook endpoint.
pub(crate) struct Webhook {
    settings: WebhookSettings,
    sender: Arc<dyn HttpSender>,
}

impl Webhook {
    pub(crate) fn new(settings: WebhookSettings, sender: Arc<dyn HttpSender>) -> Self {
        Self { settings, sender }
    }

    /// Delivers `record` as of `now` (`upload.completed`): the receiver's JSON object answer
    /// when it gave one, or why the delivery failed (a transport error, the deadline, a
    /// status other than 2xx).
    pub(crate) async fn deliver(
        &self,
        record: &Record,
        now: SystemTime,
        within: Duration,
    ) -> Result<Option<Value>, String> {
        self.send("upload.completed", webhook_id(record), record, now, within)
            .await
    }

    /// Tells the app of an object nobody is named for (`upload.rejected`).
    pub(crate) async fn reject(
        &self,
        rejection: &Rejection,
        now: SystemTime,
    ) -> Result<(), String> {
        self.send(
            "upload.rejected",
            rejection_id(rejection),
            rejection,
            now,
            DEADLINE,
        )
        .await
        .map(|_| ())
    }

    /// Tells the app of an upload that broke its profile's rules (`upload.rejected`).
    pub(crate) async fn reject_profile(
        &self,
        rejection: &ProfileRejection,
        now: SystemTime,
        within: Duration,
    ) -> Result<(), String> {
        self.send("upload.rejected", rejection.id(), rejection, now, within)
            .await
            .map(|_| ())
    }

    /// `{"type","timestamp","data"}`, signed per Standard Webhooks with `id`, answered
    /// within `within` (at most [`DEADLINE`]).
    async fn send(
        &self,
        kind: &str,
        id: String,
        data: &impl Serialize,
        now: SystemTime,
        within: Duration,
    ) -> Result<Option<Value>, String> {
        let within = within.min(DEADLINE);
        let body = json!({
            "type": kind,
            "timestamp": format_iso8601(now),
            "data": data,
        })
        .to_string();
        let timestamp = unix_seconds(now);
        let signature = self.settings.secret.sign(&id, timestamp, body.as_bytes());
        let header = HeaderName::from_static;
        let request = SignedRequest {
            method: Method::POST,
            url: self.settings.url.clone(),
            headers: vec![
                (header("content-type"), "application/json".to_owned()),
                (header("webhook-id"), id),
                (header("webhook-timestamp"), timestamp.to_string()),
                (header("webhook-signature"), signature),
            ],
            body: body.into_bytes(),
        };
        let reply = tokio::time::timeout(within, self.sender.send(request))
            .await
            .map_err(|_| {
                format!(
                    "the webhook did not answer within {} ms",
                    within.as_millis()
                )
            })?
            .map_err(|_| "the webhook could not be reached".to_owned())?;
        if !(200..300).contains(&reply.status) {
            return Err(format!("the webhook answered HTTP {}", reply.status));
        }
        Ok(serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .filter(Value::is_object))
    }
}
