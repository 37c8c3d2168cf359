//! The DynamoDB backend: DynamoDB's JSON API, signed with SigV4 by `stsvend-sign` and sent
//! through the function's own `HttpSender` with its own credentials (no AWS SDK).
//!
//! # Layout
//!
//! One table, on-demand, with a string partition key `pk`, a string sort key `sk`, and TTL on
//! the number attribute `expires_at`:
//!
//! | item | `pk` | `sk` | attributes |
//! |---|---|---|---|
//! | an account's usage | `quota#HASH` | `usage` | `account` (its name), `used`, `files`, `version`, `reservations` (a map: object key → `{bytes, until, new}`) |
//! | one recorded object | `quota#HASH` | `object#KEYHASH` | `key`, `size`, `etag` |
//! | one rate window | `rate#CALLERHASH` | `PER#WINDOW` | `grants`, `expires_at` (TTL) |
//!
//! `HASH` is the hex SHA-256 of the account's name (`profile/subject`, each part
//! percent-encoded), `KEYHASH` of the object key, `CALLERHASH` of the caller's encoded name:
//! keys stay within DynamoDB's key sizes (a subject may be 10 KB) and no text can spell
//! another item's key. One item per object keeps an account with many objects far from the
//! 400 KB item limit; the reservations map holds live grants only (expired ones are dropped
//! at every write), which bounds one subject to about 3,000 grants in flight (keys of 100
//! bytes): past that, its writes are refused and its grants fail closed.
//!
//! The table, as `template.yaml` makes it:
//!
//! ```text
//! aws dynamodb create-table --table-name stsvend-quota \
//!   --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
//!   --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
//!   --billing-mode PAY_PER_REQUEST
//! aws dynamodb update-time-to-live --table-name stsvend-quota \
//!   --time-to-live-specification Enabled=true,AttributeName=expires_at
//! ```
//!
//! The function's role needs `dynamodb:GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`,
//! `Query` and `BatchWriteItem` on it (the transactions need those of their parts).
//!
//! # Exact counts under concurrency
//!
//! Every change to an account writes its usage item with a condition on the `version` it read
//! (optimistic concurrency): of two instances deciding from the same read, one write fails its
//! condition and that instance reads again and decides again, until its deadline. A settle or
//! a removal writes the object item and the usage item in one `TransactWriteItems`. A rate
//! window is one conditional `UpdateItem` (`grants < limit`), with no read.
//!
//! # Reference
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate>

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use stsvend::sign::SigningKeyCache;
use stsvend::sign::aws::dynamodb::{json_request, regional_endpoint};

use crate::ledger::{account_id, decide_reserve, name_part, rate_window};
use crate::{
    Account, DynamoAccess, Limits, Rate, RateDecision, Reservation, Reserved, Settled, StoreError,
    Stored, Usage,
};

/// The usage item's sort key.
const USAGE_SK: &str = "usage";
/// The prefix of an object item's sort key.
const OBJECT_SK: &str = "object#";
/// The most items one `BatchWriteItem` takes.
const BATCH: usize = 25;

/// A connected DynamoDB table, shared by every request of the process.
#[derive(Debug)]
pub struct DynamoStore {
    table: String,
    endpoint: String,
    access: DynamoAccess,
    keys: SigningKeyCache,
    timeout: Duration,
}

/// A reservation as the usage item holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    bytes: u64,
    until: u64,
    /// The key was not an object when reserved (or stopped being one): it counts a file.
    new: bool,
}

/// An account's usage item, as read.
#[derive(Debug, Default)]
struct UsageItem {
    /// The version read; `None` when the item does not exist yet.
    version: Option<u64>,
    used: u64,
    files: u64,
    reservations: BTreeMap<String, Held>,
}

impl UsageItem {
    fn purge(&mut self, now: u64) {
        self.reservations.retain(|_, held| held.until > now);
    }

    fn usage(&self) -> Usage {
        let live = self.reservations.values();
        Usage {
            used_bytes: self.used,
            files: self.files,
            reserved_bytes: live.clone().map(|h| h.bytes).sum(),
            reserved_files: live.filter(|h| h.new).count() as u64,
        }
    }
}

/// An object item, as read.
#[derive(Debug)]
struct ObjectItem {
    size: u64,
    etag: String,
}

/// A write DynamoDB did not make, though nothing is wrong with the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    /// Its condition failed (another writer got there first, or a rate is spent): read again
    /// and decide again.
    Condition,
    /// Throttled, or a transaction in the way: send again after a pause.
    Busy,
}

/// What a conditional write came to.
type Written = Result<Result<Value, Conflict>, StoreError>;

/// The pause before sending again after [`Conflict::Busy`].
const BUSY_PAUSE: Duration = Duration::from_millis(20);

/// Error kinds whose message is kept in a [`StoreError`]: they name the table or a field.
/// Others (a signature error quotes the canonical request, with a session token in it) are
/// reported by kind alone.
const MESSAGE_KEPT: &[&str] = &["ResourceNotFoundException", "ValidationException"];

/// Waits out a [`Conflict::Busy`]; a failed condition is decided again at once.
async fn pause_after(conflict: Conflict) {
    if conflict == Conflict::Busy {
        tokio::time::sleep(BUSY_PAUSE).await;
    }
}

fn hex_sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn s(text: &str) -> Value {
    json!({ "S": text })
}

fn n(number: u64) -> Value {
    json!({ "N": number.to_string() })
}

/// A number attribute (`{"N": "…"}`), 0 when missing.
fn read_n(item: &Value, name: &str) -> u64 {
    item[name]["N"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// An account's partition key and its name.
struct Keys {
    pk: String,
    name: String,
}

impl Keys {
    fn of(account: Account<'_>) -> Self {
        let name = account_id(account);
        Self {
            pk: format!("quota#{}", hex_sha256(&name)),
            name,
        }
    }

    fn usage_key(&self) -> Value {
        json!({ "pk": s(&self.pk), "sk": s(USAGE_SK) })
    }

    fn object_key(&self, key: &str) -> Value {
        json!({ "pk": s(&self.pk), "sk": s(&format!("{OBJECT_SK}{}", hex_sha256(key))) })
    }

    fn object_item(&self, key: &str, size: u64, etag: &str) -> Value {
        let mut item = self.object_key(key);
        item["key"] = s(key);
        item["size"] = n(size);
        item["etag"] = s(etag);
        item
    }

    /// The usage item to write for `state`, one version past what was read.
    fn usage_item(&self, state: &UsageItem) -> Value {
        let reservations: serde_json::Map<String, Value> = state
            .reservations
            .iter()
            .map(|(key, held)| {
                let value = json!({ "M": {
                    "bytes": n(held.bytes), "until": n(held.until), "new": { "BOOL": held.new }
                }});
                (key.clone(), value)
            })
            .collect();
        let mut item = self.usage_key();
        item["account"] = s(&self.name);
        item["used"] = n(state.used);
        item["files"] = n(state.files);
        item["version"] = n(state.version.map_or(1, |v| v + 1));
        item["reservations"] = json!({ "M": reservations });
        item
    }
}

impl DynamoStore {
    /// Reads one item of `table`, so a wrong table, endpoint, region or credential stops the
    /// cold start.
    pub(crate) async fn connect(
        table: &str,
        access: DynamoAccess,
        timeout: Duration,
    ) -> Result<Self, StoreError> {
        let endpoint = access
            .endpoint
            .clone()
            .unwrap_or_else(|| regional_endpoint(&access.region));
        let store = Self {
            table: table.to_owned(),
            endpoint,
            access,
            keys: SigningKeyCache::default(),
            timeout,
        };
        let probe = json!({ "pk": s("stsvend#connect"), "sk": s("connect") });
        store
            .within(store.call("GetItem", &json!({ "TableName": table, "Key": probe })))
            .await?;
        Ok(store)
    }

    /// `work` within the store's deadline.
    async fn within<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.timeout)))
    }

    /// Sends one operation; any refusal is an error.
    async fn call(&self, operation: &str, body: &Value) -> Result<Value, StoreError> {
        match self.write(operation, body).await? {
            Ok(answer) => Ok(answer),
            Err(conflict) => Err(StoreError::Unavailable(format!(
                "dynamodb: {operation} was refused ({conflict:?})"
            ))),
        }
    }

    /// Sends one operation; a failed condition, a transaction conflict or throttling is a
    /// [`Conflict`], to be decided again.
    async fn write(&self, operation: &str, body: &Value) -> Written {
        let now = self.access.clock.now();
        let credential = self
            .access
            .credentials
            .credential(&self.access.sender, now)
            .await
            .map_err(|e| StoreError::Unavailable(format!("dynamodb: credentials: {e}")))?;
        let request = json_request(
            &self.endpoint,
            &self.access.region,
            &credential,
            operation,
            body.to_string().into_bytes(),
            now,
            &self.keys,
        );
        let reply = self
            .access
            .sender
            .send(request)
            .await
            .map_err(unreachable)?;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if reply.status == 200 {
            return Ok(Ok(answer));
        }
        let kind = answer["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .unwrap_or("");
        if let Some(conflict) = conflict(kind, &answer) {
            return Ok(Err(conflict));
        }
        Err(refusal(operation, reply.status, kind, &answer))
    }

    /// The usage item and, with `key`, that object's item, read together (one
    /// `TransactGetItems`, a consistent snapshot).
    async fn read(
        &self,
        keys: &Keys,
        key: Option<&str>,
    ) -> Result<(UsageItem, Option<ObjectItem>), StoreError> {
        let mut gets = vec![json!({ "Get": { "TableName": self.table, "Key": keys.usage_key() } })];
        if let Some(key) = key {
            gets.push(json!({ "Get": { "TableName": self.table, "Key": keys.object_key(key) } }));
        }
        let answer = self
            .call("TransactGetItems", &json!({ "TransactItems": gets }))
            .await?;
        let responses = answer["Responses"].as_array().cloned().unwrap_or_default();
        let usage = responses
            .first()
            .and_then(|r| r.get("Item"))
            .map(parse_usage)
            .transpose()?
            .unwrap_or_default();
        let object = responses
            .get(1)
            .and_then(|r| r.get("Item"))
            .map(|item| ObjectItem {
                size: read_n(item, "size"),
                etag: item["etag"]["S"].as_str().unwrap_or("").to_owned(),
            });
        Ok((usage, object))
    }

    /// The usage item's write, on the condition that its version is still the one read.
    fn conditional_put(&self, keys: &Keys, state: &UsageItem) -> Value {
        let mut put = json!({ "TableName": self.table, "Item": keys.usage_item(state) });
        match state.version {
            None => put["ConditionExpression"] = json!("attribute_not_exists(pk)"),
            Some(version) => {
                put["ConditionExpression"] = json!("#v = :v");
                put["ExpressionAttributeNames"] = json!({ "#v": "version" });
                put["ExpressionAttributeValues"] = json!({ ":v": n(version) });
            }
        }
        put
    }

    pub(crate) async fn reserve(
        &self,
        account: Account<'_>,
        limits: Limits,
        reservation: Reservation<'_>,
        now: u64,
    ) -> Result<Reserved, StoreError> {
        let keys = Keys::of(account);
        self.within(async {
            loop {
                let (mut state, object) = self.read(&keys, Some(reservation.key)).await?;
                state.purge(now);
                let held = state.reservations.get(reservation.key).map(|h| h.bytes);
                let recorded = object.is_some();
                let live = u64::try_from(state.reservations.len()).unwrap_or(u64::MAX);
                let decision = decide_reserve(
                    state.usage(),
                    limits,
                    reservation.bytes,
                    held,
                    recorded,
                    live,
                );
                if let Reserved::Exceeded(_) = decision {
                    return Ok(decision);
                }
                let held = Held {
                    bytes: reservation.bytes,
                    until: reservation.expires_at,
                    new: !recorded,
                };
                state.reservations.insert(reservation.key.to_owned(), held);
                let put = self.conditional_put(&keys, &state);
                match self.write("PutItem", &put).await? {
                    Ok(_) => return Ok(decision),
                    Err(conflict) => pause_after(conflict).await,
                }
            }
        })
        .await
    }

    pub(crate) async fn settle(
        &self,
        account: Account<'_>,
        object: Stored<'_>,
        now: u64,
    ) -> Result<Settled, StoreError> {
        let keys = Keys::of(account);
        self.within(async {
            loop {
                let (mut state, before) = self.read(&keys, Some(object.key)).await?;
                state.purge(now);
                if before.as_ref().is_some_and(|b| b.etag == object.etag) {
                    return Ok(Settled::AlreadyCounted(state.usage()));
                }
                let old_size = before.as_ref().map_or(0, |b| b.size);
                state.used = (state.used + object.size).saturating_sub(old_size);
                state.files += u64::from(before.is_none());
                state.reservations.remove(object.key);
                let item = keys.object_item(object.key, object.size, object.etag);
                let writes = json!({ "TransactItems": [
                    { "Put": { "TableName": self.table, "Item": item } },
                    { "Put": self.conditional_put(&keys, &state) },
                ]});
                match self.write("TransactWriteItems", &writes).await? {
                    Ok(_) => return Ok(Settled::Counted(state.usage())),
                    Err(conflict) => pause_after(conflict).await,
                }
            }
        })
        .await
    }

    pub(crate) async fn remove(
        &self,
        account: Account<'_>,
        key: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        let keys = Keys::of(account);
        self.within(async {
            loop {
                let (mut state, before) = self.read(&keys, Some(key)).await?;
                state.purge(now);
                let Some(before) = before else {
                    return Ok(state.usage());
                };
                state.used = state.used.saturating_sub(before.size);
                state.files = state.files.saturating_sub(1);
                if let Some(held) = state.reservations.get_mut(key) {
                    held.new = true;
                }
                let writes = json!({ "TransactItems": [
                    { "Delete": { "TableName": self.table, "Key": keys.object_key(key) } },
                    { "Put": self.conditional_put(&keys, &state) },
                ]});
                match self.write("TransactWriteItems", &writes).await? {
                    Ok(_) => return Ok(state.usage()),
                    Err(conflict) => pause_after(conflict).await,
                }
            }
        })
        .await
    }

    pub(crate) async fn usage(&self, account: Account<'_>, now: u64) -> Result<Usage, StoreError> {
        let keys = Keys::of(account);
        self.within(async {
            let (mut state, _) = self.read(&keys, None).await?;
            state.purge(now);
            Ok(state.usage())
        })
        .await
    }

    pub(crate) async fn replace(
        &self,
        account: Account<'_>,
        objects: &[Stored<'_>],
        now: u64,
    ) -> Result<Usage, StoreError> {
        let keys = Keys::of(account);
        self.within(async {
            let existing = self.objects(&keys).await?;
            let mut wanted: BTreeMap<String, Value> = BTreeMap::new();
            for object in objects {
                let item = keys.object_item(object.key, object.size, object.etag);
                let sk = item["sk"]["S"].as_str().unwrap_or_default().to_owned();
                wanted.insert(sk, item);
            }
            let mut requests: Vec<Value> = existing
                .keys()
                .filter(|sk| !wanted.contains_key(*sk))
                .map(|sk| json!({ "DeleteRequest": { "Key": { "pk": s(&keys.pk), "sk": s(sk) } } }))
                .collect();
            requests.extend(
                wanted
                    .into_values()
                    .map(|item| json!({ "PutRequest": { "Item": item } })),
            );
            self.batch_write(requests).await?;
            self.recount(&keys, now).await
        })
        .await
    }

    /// Rewrites the usage item from the object items as they are now (read again if another
    /// writer changed it meanwhile): sums, and reservations for keys that are objects released.
    async fn recount(&self, keys: &Keys, now: u64) -> Result<Usage, StoreError> {
        loop {
            let (mut state, _) = self.read(keys, None).await?;
            let objects = self.objects(keys).await?;
            state.purge(now);
            state.used = objects.values().map(|(_, size)| size).sum();
            state.files = objects.len() as u64;
            let present: BTreeSet<&str> = objects.values().map(|(k, _)| k.as_str()).collect();
            state
                .reservations
                .retain(|key, _| !present.contains(key.as_str()));
            for held in state.reservations.values_mut() {
                held.new = true;
            }
            let put = self.conditional_put(keys, &state);
            match self.write("PutItem", &put).await? {
                Ok(_) => return Ok(state.usage()),
                Err(conflict) => pause_after(conflict).await,
            }
        }
    }

    /// Every object item of the account: sort key → (object key, size).
    async fn objects(&self, keys: &Keys) -> Result<BTreeMap<String, (String, u64)>, StoreError> {
        let mut found = BTreeMap::new();
        let mut start: Option<Value> = None;
        loop {
            let mut query = json!({
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :o)",
                "ExpressionAttributeValues": { ":pk": s(&keys.pk), ":o": s(OBJECT_SK) },
                "ConsistentRead": true,
            });
            if let Some(start) = start.take() {
                query["ExclusiveStartKey"] = start;
            }
            let page = self.call("Query", &query).await?;
            for item in page["Items"].as_array().into_iter().flatten() {
                let sk = item["sk"]["S"].as_str().unwrap_or_default().to_owned();
                let key = item["key"]["S"].as_str().unwrap_or_default().to_owned();
                found.insert(sk, (key, read_n(item, "size")));
            }
            match page.get("LastEvaluatedKey") {
                Some(next) if !next.is_null() => start = Some(next.clone()),
                _ => return Ok(found),
            }
        }
    }

    /// Puts and deletes in batches of 25, sending again what DynamoDB left unprocessed.
    async fn batch_write(&self, requests: Vec<Value>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = chunk.to_vec();
            while !pending.is_empty() {
                let body = json!({ "RequestItems": { &self.table: pending } });
                let answer = match self.write("BatchWriteItem", &body).await? {
                    Ok(answer) => answer,
                    Err(conflict) => {
                        pause_after(conflict).await;
                        continue;
                    }
                };
                pending = answer["UnprocessedItems"][&self.table]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    pub(crate) async fn hit_rate(
        &self,
        caller: &str,
        rate: Rate,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        let per = rate.per.as_secs().max(1);
        let (window, retry_after) = rate_window(per, now);
        if rate.count == 0 {
            return Ok(RateDecision::Exceeded { retry_after });
        }
        let key = json!({
            "pk": s(&format!("rate#{}", hex_sha256(&name_part(caller)))),
            "sk": s(&format!("{per}#{window}")),
        });
        let update = json!({
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "ADD #g :one SET #x = :ttl",
            "ConditionExpression": "attribute_not_exists(#g) OR #g < :limit",
            "ExpressionAttributeNames": { "#g": "grants", "#x": "expires_at" },
            "ExpressionAttributeValues": {
                ":one": n(1),
                ":ttl": n((window + 1) * per + per),
                ":limit": n(rate.count),
            },
        });
        self.within(async {
            loop {
                match self.write("UpdateItem", &update).await? {
                    Ok(_) => return Ok(RateDecision::Allowed),
                    Err(Conflict::Condition) => return Ok(RateDecision::Exceeded { retry_after }),
                    Err(Conflict::Busy) => pause_after(Conflict::Busy).await,
                }
            }
        })
        .await
    }
}

/// A usage item as stored.
fn parse_usage(item: &Value) -> Result<UsageItem, StoreError> {
    let version = item["version"]["N"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Unavailable("dynamodb: a usage item has no version".into()))?;
    let reservations = item["reservations"]["M"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, held)| {
            let held = &held["M"];
            let value = Held {
                bytes: read_n(held, "bytes"),
                until: read_n(held, "until"),
                new: held["new"]["BOOL"].as_bool().unwrap_or(true),
            };
            (key.clone(), value)
        })
        .collect();
    Ok(UsageItem {
        version: Some(version),
        used: read_n(item, "used"),
        files: read_n(item, "files"),
        reservations,
    })
}

/// Whether an error answer is a [`Conflict`]: a failed condition (alone, or cancelling a
/// transaction), or throttling and transaction conflicts.
fn conflict(kind: &str, answer: &Value) -> Option<Conflict> {
    match kind {
        "ConditionalCheckFailedException" => Some(Conflict::Condition),
        "TransactionConflictException"
        | "ThrottlingException"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded" => Some(Conflict::Busy),
        "TransactionCanceledException" => {
            let codes: Vec<&str> = match answer["CancellationReasons"].as_array() {
                Some(reasons) => reasons.iter().filter_map(|r| r["Code"].as_str()).collect(),
                None => vec![message(answer)],
            };
            let any = |code: &str| codes.iter().any(|c| c.contains(code));
            if any("ConditionalCheckFailed") {
                Some(Conflict::Condition)
            } else if any("TransactionConflict") || any("Throttling") {
                Some(Conflict::Busy)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A failed send, in the store's words (the sender's errors name STS, its first user).
fn unreachable(error: stsvend::Error) -> StoreError {
    match error {
        stsvend::Error::StsTimeout(deadline) => StoreError::Timeout(deadline),
        stsvend::Error::StsUnreachable(cause) => {
            StoreError::Unavailable(format!("dynamodb could not be reached: {cause}"))
        }
        other => StoreError::Unavailable(format!("dynamodb: {other}")),
    }
}

/// An error answer's message (`message`, or `Message` as some servers spell it).
fn message(answer: &Value) -> &str {
    answer["message"]
        .as_str()
        .or(answer["Message"].as_str())
        .unwrap_or("")
}

/// A refusal as a [`StoreError`]: the operation, the status and the error kind; the message
/// too for the kinds in [`MESSAGE_KEPT`], its first line, at most 200 characters.
fn refusal(operation: &str, status: u16, kind: &str, answer: &Value) -> StoreError {
    let mut text = format!("dynamodb: {operation} answered {status}");
    if !kind.is_empty() {
        text.push(' ');
        text.push_str(kind);
    }
    if MESSAGE_KEPT.contains(&kind) {
        let first_line = message(answer).lines().next().unwrap_or("");
        text.push_str(": ");
        text.extend(first_line.chars().take(200));
    }
    if REFUSED_WRITES.contains(&kind) {
        return StoreError::Refused(text);
    }
    StoreError::Unavailable(text)
}

/// The error kinds by which DynamoDB refuses a request itself (an item past 400 KB is a
/// `ValidationException`): the same request would be refused again, so it never fails open.
const REFUSED_WRITES: &[&str] = &[
    "ValidationException",
    "ItemCollectionSizeLimitExceededException",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_error_never_carries_its_canonical_request_out() {
        // The shape of DynamoDB's answer to a bad signature: the message quotes the canonical
        // request, whose headers include the session token.
        let answer = json!({
            "__type": "com.amazon.coral.service#InvalidSignatureException",
            "message": "The request signature we calculated does not match. The Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:SECRET-TOKEN\n'"
        });
        let too_big = json!({"message": "Item size has exceeded the maximum allowed size"});
        let refused = refusal("PutItem", 400, "ValidationException", &too_big);
        assert!(matches!(refused, StoreError::Refused(_)), "{refused:?}");
        assert!(matches!(
            refusal("GetItem", 400, "InvalidSignatureException", &answer),
            StoreError::Unavailable(_)
        ));
        let error = refusal("GetItem", 400, "InvalidSignatureException", &answer).to_string();
        assert_eq!(
            error,
            "the quota store is unavailable: dynamodb: GetItem answered 400 InvalidSignatureException"
        );
        let missing = json!({ "__type": "x#ResourceNotFoundException", "message": "Requested resource not found" });
        assert!(
            refusal("GetItem", 400, "ResourceNotFoundException", &missing)
                .to_string()
                .ends_with("ResourceNotFoundException: Requested resource not found")
        );
    }

    #[test]
    fn a_cancelled_transaction_is_a_conflict_only_for_a_condition_or_a_conflict() {
        let cancelled = |codes: &[&str]| {
            let reasons: Vec<Value> = codes.iter().map(|c| json!({ "Code": c })).collect();
            conflict(
                "TransactionCanceledException",
                &json!({ "CancellationReasons": reasons }),
            )
        };
        assert_eq!(
            cancelled(&["None", "ConditionalCheckFailed"]),
            Some(Conflict::Condition)
        );
        assert_eq!(
            cancelled(&["TransactionConflict", "None"]),
            Some(Conflict::Busy)
        );
        assert_eq!(cancelled(&["ValidationError", "None"]), None);
        assert_eq!(
            conflict("ConditionalCheckFailedException", &Value::Null),
            Some(Conflict::Condition)
        );
        assert_eq!(
            conflict("ThrottlingException", &Value::Null),
            Some(Conflict::Busy)
        );
        assert_eq!(conflict("AccessDeniedException", &Value::Null), None);
    }
}
