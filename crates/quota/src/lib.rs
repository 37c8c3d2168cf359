//! Quota and grant-rate counts, held in a store built for shared state.
//!
//! Every function instance is stateless and many run at once, so nothing here keeps a count in
//! the process: each operation is one atomic exchange with the store (a Lua script on Redis, a
//! conditional write on DynamoDB, an immediate transaction on SQLite).
//!
//! The model, per [`Account`] (one subject under one upload profile):
//! - **objects**: every recorded object's key, size and ETag. `used_bytes` and `files` are their
//!   sums, kept beside them so a check reads two numbers.
//! - **reservations**: a key's bound size, held from the grant until its URL expires plus the
//!   grace (`expires_at`), or until the upload is settled. Expired ones are dropped by the next
//!   operation on the account.
//!
//! Settling is idempotent: an object already recorded with the same ETag counts once; an
//! overwrite (same key, new ETag) counts the difference; removing an unknown key changes nothing.
//!
//! The backends, one file each, document their layouts: `sqlite.rs` (the schema), `redis.rs`
//! (the keys, hash-tagged per account) and `dynamodb.rs` (the table, its items, and the
//! `aws dynamodb create-table` command); the book's page is `docs/src/quota-stores.md`. The
//! rules they share (account names, the reserve decision, rate windows) are `ledger.rs`'s, and
//! one test suite (`crates/quota/tests/stores/`) holds the three to the same answers against
//! their real servers.

mod dynamodb;
mod ledger;
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;
mod url;

pub use url::{RedisUrl, StoreUrl, StoreUrlError};

use std::time::Duration;

/// One subject's counts under one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account<'a> {
    /// The upload profile's name (`default` without a profiles file).
    pub profile: &'a str,
    /// The expanded `quota_subject` template (`${sub}` by default).
    pub subject: &'a str,
}

/// What an account may hold; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Bytes, counting used and reserved.
    pub bytes: Option<u64>,
    /// Objects, counting recorded and reserved new keys.
    pub files: Option<u64>,
}

/// A grant's claim on an account: one key, up to `bytes`, until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation<'a> {
    /// The object key the grant signs.
    pub key: &'a str,
    /// The most the upload can store (the exact length, the form's maximum, or the profile's
    /// `max_bytes` where the store cannot bound it).
    pub bytes: u64,
    /// Unix seconds after which the reservation no longer counts.
    pub expires_at: u64,
}

/// An object as the store reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<'a> {
    /// The object key.
    pub key: &'a str,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag (quotes removed), which tells a replay from an overwrite.
    pub etag: &'a str,
}

/// An account's counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Bytes of recorded objects.
    pub used_bytes: u64,
    /// Recorded objects.
    pub files: u64,
    /// Bytes held by live reservations.
    pub reserved_bytes: u64,
    /// Live reservations for keys not yet recorded.
    pub reserved_files: u64,
}

/// What [`Store::reserve`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// The reservation is held; the usage includes it.
    Granted(Usage),
    /// Granting would pass a limit; nothing was written. The usage is as it stands.
    Exceeded(Usage),
}

/// What [`Store::settle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The object was counted (new, or an overwrite counted by the difference); the key's
    /// reservation, if any, was released.
    Counted(Usage),
    /// The same key and ETag were already recorded: nothing changed.
    AlreadyCounted(Usage),
}

/// A grant rate: `count` grants per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Grants allowed in one window.
    pub count: u64,
    /// The window's length.
    pub per: Duration,
}

/// What [`Store::hit_rate`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Counted, and within the rate.
    Allowed,
    /// Over the rate; the caller may retry after this many seconds (at least 1).
    Exceeded {
        /// Seconds until the window ends.
        retry_after: u64,
    },
}

/// The most live reservations one account holds at once: a grant for a key the account does
/// not already reserve is refused (`Reserved::Exceeded`) past it, whatever its size, so that
/// an uploader cannot pile up grants of tiny sizes until the store refuses the account's
/// writes (DynamoDB keeps an account's reservations in one item of at most 400 KB).
pub const MAX_LIVE_RESERVATIONS: u64 = 1000;

/// Why the store could not answer. Callers fail closed on it (503 `QuotaStoreUnavailable`)
/// unless `QUOTA_FAIL_OPEN` says otherwise, which it never does for [`StoreError::Refused`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No answer within the deadline (`QUOTA_TIMEOUT_MS`).
    #[error("the quota store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store could not be reached or refused the exchange. The text names no secret.
    #[error("the quota store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered, and refused the write itself: DynamoDB's `ValidationException`
    /// (an account's usage item past its 400 KB bound), or an error reply of a Redis script
    /// (`OOM` when the server is full). Sending it again would be refused again, and a caller
    /// may be the cause (by piling up grants), so it never fails open. The text names no
    /// secret.
    #[error("the quota store refused the write: {0}")]
    Refused(String),
}

/// A connected store. One per process, shared by every request.
#[derive(Debug)]
pub enum Store {
    /// Redis or anything speaking its protocol (Valkey, ElastiCache, Tair).
    Redis(redis::RedisStore),
    /// DynamoDB (or moto's server in the tests).
    DynamoDb(dynamodb::DynamoStore),
    /// SQLite, for one host (with the `sqlite` feature, on by default).
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteStore),
}

/// How to reach a DynamoDB table: the function's own credentials and region, and an endpoint
/// override. Filled by the caller, which owns the credential sources.
#[derive(Clone)]
pub struct DynamoAccess {
    /// `QUOTA_STORE_ENDPOINT`, else `https://dynamodb.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The region the table lives in.
    pub region: String,
    /// The function's own credentials (the provider `stsvend::start` started).
    pub credentials: std::sync::Arc<stsvend::CredentialProvider>,
    /// What sends the signed requests (the function's one sender); each exchange is also
    /// bounded by the store's timeout.
    pub sender: std::sync::Arc<dyn stsvend::HttpSender>,
    /// The clock requests are signed with (the function's `SystemClock`); the `now` each
    /// operation takes decides expiry only.
    pub clock: std::sync::Arc<dyn stsvend::Clock>,
}

impl std::fmt::Debug for DynamoAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoAccess")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects and makes one exchange, so a wrong address stops the cold start. Every later
    /// exchange is bounded by `timeout` (`QUOTA_TIMEOUT_MS`). `dynamo` is required for a
    /// `dynamodb:` store (refused without it) and ignored otherwise.
    pub async fn connect(
        url: &StoreUrl,
        timeout: Duration,
        dynamo: Option<DynamoAccess>,
    ) -> Result<Self, StoreError> {
        match url {
            StoreUrl::Redis(url) => redis::RedisStore::connect(url, timeout)
                .await
                .map(Self::Redis),
            StoreUrl::DynamoDb { table } => {
                let access = dynamo.ok_or_else(|| {
                    StoreError::Unavailable(
                        "a dynamodb: store needs the function's credentials and region".into(),
                    )
                })?;
                dynamodb::DynamoStore::connect(table, access, timeout)
                    .await
                    .map(Self::DynamoDb)
            }
            #[cfg(feature = "sqlite")]
            StoreUrl::Sqlite(path) => sqlite::SqliteStore::connect(path, timeout)
                .await
                .map(Self::Sqlite),
            #[cfg(not(feature = "sqlite"))]
            StoreUrl::Sqlite(_) => Err(StoreError::Unavailable(
                "this build has no SQLite (stsvend-quota's `sqlite` feature is off)".into(),
            )),
        }
    }

    /// Reserves `reservation` against `limits`, atomically: granted only if used + reserved +
    /// this reservation stay within both limits (a key already reserved is replaced, a key
    /// already recorded adds no file).
    pub async fn reserve(
        &self,
        account: Account<'_>,
        limits: Limits,
        reservation: Reservation<'_>,
        now: u64,
    ) -> Result<Reserved, StoreError> {
        match self {
            Self::Redis(b) => b.reserve(account, limits, reservation, now).await,
            Self::DynamoDb(b) => b.reserve(account, limits, reservation, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.reserve(account, limits, reservation, now).await,
        }
    }

    /// Records an uploaded object and releases its key's reservation; idempotent.
    pub async fn settle(
        &self,
        account: Account<'_>,
        object: Stored<'_>,
        now: u64,
    ) -> Result<Settled, StoreError> {
        match self {
            Self::Redis(b) => b.settle(account, object, now).await,
            Self::DynamoDb(b) => b.settle(account, object, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.settle(account, object, now).await,
        }
    }

    /// Forgets a deleted object, giving its bytes back; an unknown key changes nothing.
    pub async fn remove(
        &self,
        account: Account<'_>,
        key: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        match self {
            Self::Redis(b) => b.remove(account, key, now).await,
            Self::DynamoDb(b) => b.remove(account, key, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.remove(account, key, now).await,
        }
    }

    /// The account's counts now (expired reservations not counted).
    pub async fn usage(&self, account: Account<'_>, now: u64) -> Result<Usage, StoreError> {
        match self {
            Self::Redis(b) => b.usage(account, now).await,
            Self::DynamoDb(b) => b.usage(account, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.usage(account, now).await,
        }
    }

    /// Reconcile: replaces the account's recorded objects with what the store holds, keeping
    /// live reservations for keys not in `objects`.
    pub async fn replace(
        &self,
        account: Account<'_>,
        objects: &[Stored<'_>],
        now: u64,
    ) -> Result<Usage, StoreError> {
        match self {
            Self::Redis(b) => b.replace(account, objects, now).await,
            Self::DynamoDb(b) => b.replace(account, objects, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.replace(account, objects, now).await,
        }
    }

    /// Counts one grant for `caller` in the current fixed window of `rate`; a refused grant
    /// is not counted.
    pub async fn hit_rate(
        &self,
        caller: &str,
        rate: Rate,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        match self {
            Self::Redis(b) => b.hit_rate(caller, rate, now).await,
            Self::DynamoDb(b) => b.hit_rate(caller, rate, now).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(b) => b.hit_rate(caller, rate, now).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}

    /// Compiled, never run: a store is shared by every request of a process, and each
    /// operation's future may be spawned, on any backend.
    #[allow(dead_code)]
    fn a_store_is_shared_and_its_futures_are_send(store: &Store) {
        send_sync(store);
        let account = Account {
            profile: "p",
            subject: "s",
        };
        let object = Stored {
            key: "k",
            size: 1,
            etag: "e",
        };
        let reservation = Reservation {
            key: "k",
            bytes: 1,
            expires_at: 1,
        };
        let rate = Rate {
            count: 1,
            per: Duration::from_secs(1),
        };
        send(store.reserve(account, Limits::default(), reservation, 0));
        send(store.settle(account, object, 0));
        send(store.remove(account, "k", 0));
        send(store.usage(account, 0));
        send(store.replace(account, &[object], 0));
        send(store.hit_rate("c", rate, 0));
    }
}
