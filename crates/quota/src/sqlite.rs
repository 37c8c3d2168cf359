//! The SQLite backend: one file on one host, for the playground and a single server.
//!
//! Atomic across the processes of one host: every operation is one `BEGIN IMMEDIATE`
//! transaction (the write lock is taken first, so two processes never decide from the same
//! read), in WAL mode with `synchronous=NORMAL` and a `busy_timeout` of the store's deadline.
//! `NORMAL` keeps every acknowledged count through a crash of the process (the WAL is written
//! before the commit returns) but not through a crash of the machine, where the last commits
//! may roll back until the next reconcile; `FULL` would fsync each grant, 2.7 ms against 87 µs
//! (BENCHMARKS.md, "Quota stores"). SQLite's calls block, so each runs on tokio's
//! blocking pool; the process's one connection is taken in turn.
//!
//! # Layout
//!
//! Created on connect when missing. `account` is the account's name (`profile/subject`, each
//! part percent-encoded, so no subject can spell another account); object keys and etags are
//! stored as BLOBs, byte for byte.
//!
//! ```sql
//! quota_accounts(account TEXT PRIMARY KEY, used_bytes INTEGER, files INTEGER)
//! quota_objects(account TEXT, key BLOB, size INTEGER, etag BLOB, PRIMARY KEY (account, key))
//! quota_reservations(account TEXT, key BLOB, bytes INTEGER, expires_at INTEGER,
//!                    PRIMARY KEY (account, key))      -- and an index on (account, expires_at)
//! quota_rates(caller TEXT, per INTEGER, window INTEGER, count INTEGER,
//!             PRIMARY KEY (caller, per, window))
//! ```
//!
//! `used_bytes` and `files` are kept in `quota_accounts` beside the objects they sum; the
//! reserved counts are summed from the live reservations (few) at each operation.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::ledger::{account_id, decide_reserve, name_part, rate_window};
use crate::{
    Account, Limits, Rate, RateDecision, Reservation, Reserved, Settled, StoreError, Stored, Usage,
};

/// The schema, created on connect when missing.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quota_accounts (
    account TEXT PRIMARY KEY,
    used_bytes INTEGER NOT NULL,
    files INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_objects (
    account TEXT NOT NULL,
    key BLOB NOT NULL,
    size INTEGER NOT NULL,
    etag BLOB NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quota_reservations (
    account TEXT NOT NULL,
    key BLOB NOT NULL,
    bytes INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quota_reservations_expiry ON quota_reservations (account, expires_at);
CREATE TABLE IF NOT EXISTS quota_rates (
    caller TEXT NOT NULL,
    per INTEGER NOT NULL,
    window INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (caller, per, window)
) WITHOUT ROWID;
";

/// A connection to one SQLite file, shared by every request of the process.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Arc<tokio::sync::Mutex<Connection>>,
    timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating when missing) the file at `path` and its schema.
    pub(crate) async fn connect(path: &Path, timeout: Duration) -> Result<Self, StoreError> {
        let path = path.to_owned();
        let open = move || -> rusqlite::Result<Connection> {
            let connection = Connection::open(&path)?;
            connection.busy_timeout(timeout)?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            connection.execute_batch(SCHEMA)?;
            Ok(connection)
        };
        let connection = within(timeout, tokio::task::spawn_blocking(open)).await?;
        Ok(Self {
            connection: Arc::new(tokio::sync::Mutex::new(connection)),
            timeout,
        })
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the blocking pool, within the
    /// deadline (waiting for the connection included), and commits what it returns.
    async fn transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let run = async move {
            let mut connection = connection.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            })
            .await
        };
        within(self.timeout, run).await
    }

    pub(crate) async fn reserve(
        &self,
        account: Account<'_>,
        limits: Limits,
        reservation: Reservation<'_>,
        now: u64,
    ) -> Result<Reserved, StoreError> {
        let (id, key) = (account_id(account), reservation.key.as_bytes().to_vec());
        let (bytes, expires_at) = (reservation.bytes, reservation.expires_at);
        self.transaction(move |tx| {
            purge(tx, &id, now)?;
            let usage = usage(tx, &id, now)?;
            let held: Option<i64> = tx
                .query_row(
                    "SELECT bytes FROM quota_reservations WHERE account = ?1 AND key = ?2",
                    params![id, key],
                    |row| row.get(0),
                )
                .optional()?;
            let recorded = object(tx, &id, &key)?.is_some();
            let live: i64 = tx.query_row(
                "SELECT COUNT(*) FROM quota_reservations WHERE account = ?1",
                params![id],
                |row| row.get(0),
            )?;
            let decision = decide_reserve(
                usage,
                limits,
                bytes,
                held.map(to_u64),
                recorded,
                to_u64(live),
            );
            if let Reserved::Granted(_) = decision {
                tx.execute(
                    "INSERT OR REPLACE INTO quota_reservations (account, key, bytes, expires_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, key, to_i64(bytes), to_i64(expires_at)],
                )?;
            }
            Ok(decision)
        })
        .await
    }

    pub(crate) async fn settle(
        &self,
        account: Account<'_>,
        object: Stored<'_>,
        now: u64,
    ) -> Result<Settled, StoreError> {
        let id = account_id(account);
        let (key, etag) = (
            object.key.as_bytes().to_vec(),
            object.etag.as_bytes().to_vec(),
        );
        let size = object.size;
        self.transaction(move |tx| {
            purge(tx, &id, now)?;
            let before = self::object(tx, &id, &key)?;
            if before.as_ref().is_some_and(|(_, old)| *old == etag) {
                return Ok(Settled::AlreadyCounted(usage(tx, &id, now)?));
            }
            tx.execute(
                "INSERT OR REPLACE INTO quota_objects (account, key, size, etag) VALUES (?1, ?2, ?3, ?4)",
                params![id, key, to_i64(size), etag],
            )?;
            let (old_size, new_file) = before.map_or((0, 1), |(old, _)| (old, 0));
            add_to_account(tx, &id, to_i64(size) - old_size, new_file)?;
            tx.execute(
                "DELETE FROM quota_reservations WHERE account = ?1 AND key = ?2",
                params![id, key],
            )?;
            Ok(Settled::Counted(usage(tx, &id, now)?))
        })
        .await
    }

    pub(crate) async fn remove(
        &self,
        account: Account<'_>,
        key: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        let (id, key) = (account_id(account), key.as_bytes().to_vec());
        self.transaction(move |tx| {
            purge(tx, &id, now)?;
            if let Some((size, _)) = object(tx, &id, &key)? {
                tx.execute(
                    "DELETE FROM quota_objects WHERE account = ?1 AND key = ?2",
                    params![id, key],
                )?;
                add_to_account(tx, &id, -size, -1)?;
            }
            usage(tx, &id, now)
        })
        .await
    }

    pub(crate) async fn usage(&self, account: Account<'_>, now: u64) -> Result<Usage, StoreError> {
        let id = account_id(account);
        self.transaction(move |tx| usage(tx, &id, now)).await
    }

    pub(crate) async fn replace(
        &self,
        account: Account<'_>,
        objects: &[Stored<'_>],
        now: u64,
    ) -> Result<Usage, StoreError> {
        let id = account_id(account);
        let objects: Vec<(Vec<u8>, i64, Vec<u8>)> = objects
            .iter()
            .map(|o| {
                (
                    o.key.as_bytes().to_vec(),
                    to_i64(o.size),
                    o.etag.as_bytes().to_vec(),
                )
            })
            .collect();
        self.transaction(move |tx| {
            purge(tx, &id, now)?;
            tx.execute("DELETE FROM quota_objects WHERE account = ?1", params![id])?;
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO quota_objects (account, key, size, etag) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (key, size, etag) in &objects {
                insert.execute(params![id, key, size, etag])?;
            }
            drop(insert);
            tx.execute(
                "INSERT OR REPLACE INTO quota_accounts (account, used_bytes, files)
                 SELECT ?1, COALESCE(SUM(size), 0), COUNT(*) FROM quota_objects WHERE account = ?1",
                params![id],
            )?;
            tx.execute(
                "DELETE FROM quota_reservations WHERE account = ?1
                 AND key IN (SELECT key FROM quota_objects WHERE account = ?1)",
                params![id],
            )?;
            usage(tx, &id, now)
        })
        .await
    }

    pub(crate) async fn hit_rate(
        &self,
        caller: &str,
        rate: Rate,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        let caller = name_part(caller);
        let per = rate.per.as_secs().max(1);
        let (window, retry_after) = rate_window(per, now);
        let limit = rate.count;
        self.transaction(move |tx| {
            let (per, window) = (to_i64(per), to_i64(window));
            tx.execute(
                "DELETE FROM quota_rates WHERE caller = ?1 AND per = ?2 AND window <> ?3",
                params![caller, per, window],
            )?;
            let count: i64 = tx
                .query_row(
                    "SELECT count FROM quota_rates WHERE caller = ?1 AND per = ?2 AND window = ?3",
                    params![caller, per, window],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            if to_u64(count) >= limit {
                return Ok(RateDecision::Exceeded { retry_after });
            }
            tx.execute(
                "INSERT OR REPLACE INTO quota_rates (caller, per, window, count) VALUES (?1, ?2, ?3, ?4)",
                params![caller, per, window, count + 1],
            )?;
            Ok(RateDecision::Allowed)
        })
        .await
    }
}

/// Drops the account's reservations that expired at or before `now`.
fn purge(tx: &Transaction<'_>, id: &str, now: u64) -> rusqlite::Result<()> {
    tx.execute(
        "DELETE FROM quota_reservations WHERE account = ?1 AND expires_at <= ?2",
        params![id, to_i64(now)],
    )?;
    Ok(())
}

/// The account's counts: its row's sums, and its live reservations summed (a reservation for
/// a key already recorded adds bytes but no file).
fn usage(tx: &Transaction<'_>, id: &str, now: u64) -> rusqlite::Result<Usage> {
    let (used_bytes, files): (i64, i64) = tx
        .query_row(
            "SELECT used_bytes, files FROM quota_accounts WHERE account = ?1",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, 0));
    let (reserved_bytes, reserved_files): (i64, i64) = tx.query_row(
        "SELECT COALESCE(SUM(r.bytes), 0),
                COALESCE(SUM(NOT EXISTS (SELECT 1 FROM quota_objects o
                                         WHERE o.account = r.account AND o.key = r.key)), 0)
         FROM quota_reservations r WHERE r.account = ?1 AND r.expires_at > ?2",
        params![id, to_i64(now)],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Usage {
        used_bytes: to_u64(used_bytes),
        files: to_u64(files),
        reserved_bytes: to_u64(reserved_bytes),
        reserved_files: to_u64(reserved_files),
    })
}

/// The recorded object at `key`: its size and etag.
fn object(tx: &Transaction<'_>, id: &str, key: &[u8]) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
    tx.query_row(
        "SELECT size, etag FROM quota_objects WHERE account = ?1 AND key = ?2",
        params![id, key],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// Adds to the account's sums, creating its row when missing.
fn add_to_account(tx: &Transaction<'_>, id: &str, bytes: i64, files: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO quota_accounts (account, used_bytes, files) VALUES (?1, 0, 0)
         ON CONFLICT (account) DO NOTHING",
        params![id],
    )?;
    tx.execute(
        "UPDATE quota_accounts SET used_bytes = MAX(used_bytes + ?2, 0), files = MAX(files + ?3, 0)
         WHERE account = ?1",
        params![id, bytes, files],
    )?;
    Ok(())
}

/// SQLite's integers are signed 64-bit; counts past `i64::MAX` bytes are held at it.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored integer back as a count; a negative one (never written) reads as 0.
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Awaits a blocking task within `timeout`, mapping each failure to a [`StoreError`].
async fn within<T>(
    timeout: Duration,
    task: impl Future<Output = Result<rusqlite::Result<T>, tokio::task::JoinError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(StoreError::Timeout(timeout)),
        Ok(Err(join)) => Err(StoreError::Unavailable(format!(
            "sqlite task failed: {join}"
        ))),
        Ok(Ok(Err(error))) => Err(StoreError::Unavailable(format!("sqlite: {error}"))),
        Ok(Ok(Ok(value))) => Ok(value),
    }
}
