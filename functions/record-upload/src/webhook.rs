//! Delivering records to the app: `POST` of `{"type":"upload.completed","timestamp","data"}`,
//! signed per Standard Webhooks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::http::{HeaderName, Method};
use serde_json::{Value, json};
use stsvend::host::config::WebhookSettings;
use stsvend::time::{format_iso8601, unix_seconds};
use stsvend::transport::{HttpSender, SignedRequest};

use crate::record::{Record, webhook_id};

/// How long a delivery may take: inside OSS's 5-second callback budget, with room for the
/// verification and the answer.
pub(crate) const DEADLINE: Duration = Duration::from_secs(4);

/// The app's webhook endpoint.
pub(crate) struct Webhook {
    settings: WebhookSettings,
    sender: Arc<dyn HttpSender>,
}

impl Webhook {
    pub(crate) fn new(settings: WebhookSettings, sender: Arc<dyn HttpSender>) -> Self {
        Self { settings, sender }
    }

    /// Delivers `record` as of `now`: the receiver's JSON object answer when it gave one, or
    /// why the delivery failed (a transport error, the deadline, a status other than 2xx).
    pub(crate) async fn deliver(
        &self,
        record: &Record,
        now: SystemTime,
    ) -> Result<Option<Value>, String> {
        let body = json!({
            "type": "upload.completed",
            "timestamp": format_iso8601(now),
            "data": record,
        })
        .to_string();
        let id = webhook_id(record);
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
        let reply = tokio::time::timeout(DEADLINE, self.sender.send(request))
            .await
            .map_err(|_| format!("the webhook did not answer within {} s", DEADLINE.as_secs()))?
            .map_err(|_| "the webhook could not be reached".to_owned())?;
        if !(200..300).contains(&reply.status) {
            return Err(format!("the webhook answered HTTP {}", reply.status));
        }
        Ok(serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .filter(Value::is_object))
    }
}
