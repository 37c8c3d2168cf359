//! The Redis backend (and what speaks its protocol: Valkey, ElastiCache, ApsaraDB for Redis /
//! Tair): each operation is one Lua script, which Redis runs atomically.
//!
//! # Layout
//!
//! An account's keys share one hash tag, its name (`profile/subject`, each part
//! percent-encoded, so the name holds no `{`, `}`, `:` or `/` of its own): on Redis Cluster
//! they live in one slot, and no subject can reach another account's keys.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `stsvend:quota:{ACCOUNT}:usage` | hash | `u` used bytes, `f` files, `rb` reserved bytes, `rf` reserved files (new keys) |
//! | `stsvend:quota:{ACCOUNT}:sizes` | hash | object key → size |
//! | `stsvend:quota:{ACCOUNT}:etags` | hash | object key → ETag |
//! | `stsvend:quota:{ACCOUNT}:reserved` | hash | object key → `BYTES:NEW` (`NEW` 1 when the key is not an object yet) |
//! | `stsvend:quota:{ACCOUNT}:expiry` | sorted set | object key scored by its reservation's `expires_at` |
//! | `stsvend:rate:{CALLER}:PER:WINDOW` | string | grants counted in one fixed window; expires after `PER` seconds |
//!
//! The quota keys never expire by themselves (they are the account's usage); reservations
//! expire through the sorted set, each script first dropping those at or before its `now`.
//! Counts are Lua numbers (doubles): exact to 2^53 bytes.
//!
//! # Connections
//!
//! On Redis Cluster each script goes to the node that holds its slot, learnt from `MOVED`
//! answers (`redis/cluster.rs`).
//!
//! A small RESP2 client (`redis/resp.rs`) over tokio, with TLS for `rediss://`; idle
//! connections are reused, each exchange (connecting included) ends within the store's
//! deadline, and a connection that failed or was abandoned is dropped, so the next exchange
//! reconnects. A script that failed on a reused connection (one the server may have closed
//! while it was idle, after a restart) is sent once more on a new one: every account script
//! is idempotent (a reserve of the same key replaces it, a settle of the same ETag counts
//! once); a rate hit sent twice may count twice, which errs on the strict side.

mod cluster;
mod resp;

use std::time::Duration;

use crate::ledger::{account_id, name_part, rate_window};
use crate::{
    Account, Limits, Rate, RateDecision, RedisUrl, Reservation, Reserved, Settled, StoreError,
    Stored, Usage,
};
use cluster::Nodes;
use resp::{Pool, Reply, RespError};

/// What every account script starts with: its keys, and the steps they share.
const PRELUDE: &str = r"
local USAGE, SIZES, ETAGS, RESERVED, EXPIRY = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function int(n) return string.format('%d', n) end
local function num(v) return tonumber(v) or 0 end
local function held(key)
  local r = redis.call('HGET', RESERVED, key)
  if not r then return nil, 0 end
  local sep = string.find(r, ':', 1, true)
  return tonumber(string.sub(r, 1, sep - 1)), tonumber(string.sub(r, sep + 1))
end
local function release(key)
  local bytes, new = held(key)
  if bytes then
    redis.call('HINCRBY', USAGE, 'rb', int(-bytes))
    redis.call('HINCRBY', USAGE, 'rf', int(-new))
    redis.call('HDEL', RESERVED, key)
  end
  redis.call('ZREM', EXPIRY, key)
end
local function purge(now)
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', now)) do release(key) end
end
local function usage(flag)
  local c = redis.call('HMGET', USAGE, 'u', 'f', 'rb', 'rf')
  return {flag, num(c[1]), num(c[2]), num(c[3]), num(c[4])}
end
";

/// ARGV: key, bytes, expires_at, now, bytes limit (`''` none), files limit (`''` none), the
/// most live reservations (`MAX_LIVE_RESERVATIONS`). Returns `{granted, u, f, rb, rf}`.
const RESERVE: &str = r"
local key, bytes = ARGV[1], tonumber(ARGV[2])
purge(ARGV[4])
local c = usage(0)
local u, f, rb, rf = c[2], c[3], c[4], c[5]
local held_bytes, held_new = held(key)
if not held_bytes and redis.call('HLEN', RESERVED) >= tonumber(ARGV[7]) then
  return c
end
local new = 1
if redis.call('HEXISTS', SIZES, key) == 1 then new = 0 end
local rb2 = rb - (held_bytes or 0) + bytes
local rf2 = rf - held_new + new
if (ARGV[5] ~= '' and u + rb2 > tonumber(ARGV[5])) or (ARGV[6] ~= '' and f + rf2 > tonumber(ARGV[6])) then
  return c
end
redis.call('HSET', RESERVED, key, int(bytes) .. ':' .. new)
redis.call('ZADD', EXPIRY, ARGV[3], key)
redis.call('HSET', USAGE, 'rb', int(rb2), 'rf', int(rf2))
return {1, u, f, rb2, rf2}
";

/// ARGV: key, size, etag, now. Returns `{counted, u, f, rb, rf}`.
const SETTLE: &str = r"
local key, size, etag = ARGV[1], tonumber(ARGV[2]), ARGV[3]
purge(ARGV[4])
if redis.call('HGET', ETAGS, key) == etag then return usage(0) end
local old = redis.call('HGET', SIZES, key)
redis.call('HSET', SIZES, key, int(size))
redis.call('HSET', ETAGS, key, etag)
redis.call('HINCRBY', USAGE, 'u', int(size - num(old)))
if not old then redis.call('HINCRBY', USAGE, 'f', 1) end
release(key)
return usage(1)
";

/// ARGV: key, now. Returns `{0, u, f, rb, rf}`.
const REMOVE: &str = r"
local key = ARGV[1]
purge(ARGV[2])
local old = redis.call('HGET', SIZES, key)
if old then
  redis.call('HDEL', SIZES, key)
  redis.call('HDEL', ETAGS, key)
  redis.call('HINCRBY', USAGE, 'u', int(-num(old)))
  redis.call('HINCRBY', USAGE, 'f', -1)
  local bytes, new = held(key)
  if bytes and new == 0 then
    redis.call('HSET', RESERVED, key, int(bytes) .. ':1')
    redis.call('HINCRBY', USAGE, 'rf', 1)
  end
end
return usage(0)
";

/// ARGV: now. Returns `{0, u, f, rb, rf}`.
const USAGE: &str = r"
purge(ARGV[1])
return usage(0)
";

/// ARGV: now, then key, size, etag of each object listed. Returns `{0, u, f, rb, rf}`.
const REPLACE: &str = r"
purge(ARGV[1])
redis.call('DEL', SIZES, ETAGS)
local u, f = 0, 0
for i = 2, #ARGV, 3 do
  local old = redis.call('HGET', SIZES, ARGV[i])
  if old then u = u - tonumber(old) else f = f + 1 end
  redis.call('HSET', SIZES, ARGV[i], ARGV[i + 1])
  redis.call('HSET', ETAGS, ARGV[i], ARGV[i + 2])
  u = u + tonumber(ARGV[i + 1])
end
local rb, rf = 0, 0
local reserved = redis.call('HGETALL', RESERVED)
for i = 1, #reserved, 2 do
  local key = reserved[i]
  if redis.call('HEXISTS', SIZES, key) == 1 then
    redis.call('HDEL', RESERVED, key)
    redis.call('ZREM', EXPIRY, key)
  else
    local bytes = held(key)
    rb = rb + bytes
    rf = rf + 1
    redis.call('HSET', RESERVED, key, int(bytes) .. ':1')
  end
end
redis.call('HSET', USAGE, 'u', int(u), 'f', int(f), 'rb', int(rb), 'rf', int(rf))
return usage(0)
";

/// KEYS: the window's counter. ARGV: limit, window length in seconds. Returns 1 when counted,
/// 0 when over the limit (not counted).
const RATE: &str = r"
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
if count == 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
";

/// A script's source and its SHA-1, which `EVALSHA` names it by.
struct Script {
    source: String,
    sha1: String,
}

impl Script {
    fn new(parts: &[&str]) -> Self {
        let source = parts.concat();
        let digest =
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, source.as_bytes());
        let sha1 = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Self { source, sha1 }
    }
}

/// The scripts, loaded into the server on first use (`EVAL` after a `NOSCRIPT`).
struct Scripts {
    reserve: Script,
    settle: Script,
    remove: Script,
    usage: Script,
    replace: Script,
    rate: Script,
}

/// A connected Redis, shared by every request of the process.
pub struct RedisStore {
    nodes: Nodes,
    scripts: Box<Scripts>,
    timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The five keys of an account, in the scripts' `KEYS` order.
fn account_keys(account: Account<'_>) -> [String; 5] {
    let base = format!("stsvend:quota:{{{}}}", account_id(account));
    ["usage", "sizes", "etags", "reserved", "expiry"].map(|part| format!("{base}:{part}"))
}

impl RedisStore {
    /// Connects to `url` and sends a `PING`.
    pub(crate) async fn connect(url: &RedisUrl, timeout: Duration) -> Result<Self, StoreError> {
        let nodes = Nodes::new(url.clone()).map_err(unavailable)?;
        let store = Self {
            nodes,
            scripts: Box::new(Scripts {
                reserve: Script::new(&[PRELUDE, RESERVE]),
                settle: Script::new(&[PRELUDE, SETTLE]),
                remove: Script::new(&[PRELUDE, REMOVE]),
                usage: Script::new(&[PRELUDE, USAGE]),
                replace: Script::new(&[PRELUDE, REPLACE]),
                rate: Script::new(&[RATE]),
            }),
            timeout,
        };
        let ping = async {
            let seed = store.nodes.seed();
            let (mut connection, _) = seed.take().await?;
            let reply = connection.call(&[b"PING"]).await?;
            seed.put(connection);
            Ok::<_, RespError>(reply)
        };
        match tokio::time::timeout(timeout, ping).await {
            Err(_) => Err(StoreError::Timeout(timeout)),
            Ok(Err(error)) => Err(unavailable(error)),
            Ok(Ok(Reply::Error(message))) => Err(refused(&message)),
            Ok(Ok(_)) => Ok(store),
        }
    }

    /// Runs `script` within the deadline, on the node that holds its keys' slot (following one
    /// `MOVED`); if it failed on a reused connection, once more on a new one (the idle
    /// connections may all have died with a restarted server).
    async fn eval(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Reply, StoreError> {
        let run = async {
            let node = match keys.first() {
                Some(key) => self.nodes.for_slot(cluster::slot(key)),
                None => self.nodes.seed(),
            };
            let reply = self.eval_retrying(&node, script, keys, args).await?;
            let moved = match &reply {
                Reply::Error(message) => self.nodes.moved(message),
                _ => None,
            };
            match moved {
                Some(owner) => self.eval_retrying(&*owner?, script, keys, args).await,
                None => Ok(reply),
            }
        };
        match tokio::time::timeout(self.timeout, run).await {
            Err(_) => Err(StoreError::Timeout(self.timeout)),
            Ok(Err(error)) => {
                self.nodes.clear();
                Err(unavailable(error))
            }
            Ok(Ok(Reply::Error(message))) => Err(refused(&message)),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    /// [`Self::eval_on`] a connection of `node`, and once more on a new one if a reused
    /// connection failed.
    async fn eval_retrying(
        &self,
        node: &Pool,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Reply, RespError> {
        let (connection, reused) = node.take().await?;
        match self.eval_on(node, connection, script, keys, args).await {
            Err(RespError::Io(_)) if reused => {
                node.clear();
                let (connection, _) = node.take().await?;
                self.eval_on(node, connection, script, keys, args).await
            }
            other => other,
        }
    }

    /// `EVALSHA` on `connection`, and `EVAL` when the server does not have the script yet;
    /// the connection goes back to `node`'s pool after a clean exchange.
    async fn eval_on(
        &self,
        node: &Pool,
        mut connection: resp::Connection,
        script: &Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Reply, RespError> {
        let count = keys.len().to_string();
        let mut command: Vec<&[u8]> = vec![b"EVALSHA", script.sha1.as_bytes(), count.as_bytes()];
        command.extend(keys.iter().map(|k| k.as_bytes()));
        command.extend_from_slice(args);
        let mut reply = connection.call(&command).await?;
        if matches!(&reply, Reply::Error(m) if m.starts_with("NOSCRIPT")) {
            command[0] = b"EVAL";
            command[1] = script.source.as_bytes();
            reply = connection.call(&command).await?;
        }
        node.put(connection);
        Ok(reply)
    }

    async fn account_script(
        &self,
        script: &Script,
        account: Account<'_>,
        args: &[&[u8]],
    ) -> Result<(bool, Usage), StoreError> {
        let keys = account_keys(account);
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let reply = self.eval(script, &keys, args).await?;
        flagged_usage(&reply)
    }

    pub(crate) async fn reserve(
        &self,
        account: Account<'_>,
        limits: Limits,
        reservation: Reservation<'_>,
        now: u64,
    ) -> Result<Reserved, StoreError> {
        let [bytes, expires_at, now] =
            [reservation.bytes, reservation.expires_at, now].map(|n| n.to_string());
        let [limit_bytes, limit_files] =
            [limits.bytes, limits.files].map(|l| l.map(|n| n.to_string()).unwrap_or_default());
        let most = crate::MAX_LIVE_RESERVATIONS.to_string();
        let args: [&[u8]; 7] = [
            reservation.key.as_bytes(),
            bytes.as_bytes(),
            expires_at.as_bytes(),
            now.as_bytes(),
            limit_bytes.as_bytes(),
            limit_files.as_bytes(),
            most.as_bytes(),
        ];
        let (granted, usage) = self
            .account_script(&self.scripts.reserve, account, &args)
            .await?;
        Ok(if granted {
            Reserved::Granted(usage)
        } else {
            Reserved::Exceeded(usage)
        })
    }

    pub(crate) async fn settle(
        &self,
        account: Account<'_>,
        object: Stored<'_>,
        now: u64,
    ) -> Result<Settled, StoreError> {
        let (size, now) = (object.size.to_string(), now.to_string());
        let args: [&[u8]; 4] = [
            object.key.as_bytes(),
            size.as_bytes(),
            object.etag.as_bytes(),
            now.as_bytes(),
        ];
        let (counted, usage) = self
            .account_script(&self.scripts.settle, account, &args)
            .await?;
        Ok(if counted {
            Settled::Counted(usage)
        } else {
            Settled::AlreadyCounted(usage)
        })
    }

    pub(crate) async fn remove(
        &self,
        account: Account<'_>,
        key: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        let now = now.to_string();
        let args: [&[u8]; 2] = [key.as_bytes(), now.as_bytes()];
        let (_, usage) = self
            .account_script(&self.scripts.remove, account, &args)
            .await?;
        Ok(usage)
    }

    pub(crate) async fn usage(&self, account: Account<'_>, now: u64) -> Result<Usage, StoreError> {
        let now = now.to_string();
        let (_, usage) = self
            .account_script(&self.scripts.usage, account, &[now.as_bytes()])
            .await?;
        Ok(usage)
    }

    pub(crate) async fn replace(
        &self,
        account: Account<'_>,
        objects: &[Stored<'_>],
        now: u64,
    ) -> Result<Usage, StoreError> {
        let now = now.to_string();
        let sizes: Vec<String> = objects.iter().map(|o| o.size.to_string()).collect();
        let mut args: Vec<&[u8]> = Vec::with_capacity(1 + 3 * objects.len());
        args.push(now.as_bytes());
        for (object, size) in objects.iter().zip(&sizes) {
            args.extend([
                object.key.as_bytes(),
                size.as_bytes(),
                object.etag.as_bytes(),
            ]);
        }
        let (_, usage) = self
            .account_script(&self.scripts.replace, account, &args)
            .await?;
        Ok(usage)
    }

    pub(crate) async fn hit_rate(
        &self,
        caller: &str,
        rate: Rate,
        now: u64,
    ) -> Result<RateDecision, StoreError> {
        let per = rate.per.as_secs().max(1);
        let (window, retry_after) = rate_window(per, now);
        let key = format!("stsvend:rate:{{{}}}:{per}:{window}", name_part(caller));
        let (limit, per) = (rate.count.to_string(), per.to_string());
        let args: [&[u8]; 2] = [limit.as_bytes(), per.as_bytes()];
        match self.eval(&self.scripts.rate, &[&key], &args).await? {
            Reply::Integer(1) => Ok(RateDecision::Allowed),
            Reply::Integer(0) => Ok(RateDecision::Exceeded { retry_after }),
            _ => Err(StoreError::Unavailable(
                "redis: the rate script answered something else".into(),
            )),
        }
    }
}

/// `{flag, u, f, rb, rf}`, as the account scripts answer.
fn flagged_usage(reply: &Reply) -> Result<(bool, Usage), StoreError> {
    let malformed = || StoreError::Unavailable("redis: a script answered something else".into());
    let Reply::Array(Some(items)) = reply else {
        return Err(malformed());
    };
    let numbers: Vec<u64> = items
        .iter()
        .map(|item| match item {
            Reply::Integer(n) => Ok(u64::try_from(*n).unwrap_or(0)),
            _ => Err(malformed()),
        })
        .collect::<Result<_, _>>()?;
    let [flag, used_bytes, files, reserved_bytes, reserved_files] = numbers[..] else {
        return Err(malformed());
    };
    Ok((
        flag == 1,
        Usage {
            used_bytes,
            files,
            reserved_bytes,
            reserved_files,
        },
    ))
}

fn unavailable(error: RespError) -> StoreError {
    StoreError::Unavailable(format!("redis: {error}"))
}

/// An error reply: its code and text (Redis's messages name commands and keys, never a
/// password).
/// `OOM` (the server is full and refuses writes) is a refused write, which never fails open;
/// the rest (`LOADING`, `BUSY`, `TRYAGAIN`, `CLUSTERDOWN`...) pass once the server recovers.
fn refused(message: &str) -> StoreError {
    if message.starts_with("OOM") {
        return StoreError::Refused(format!("redis: {message}"));
    }
    StoreError::Unavailable(format!("redis refused: {message}"))
}
