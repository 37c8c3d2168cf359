//! Redis Cluster: which node holds a key's slot, learnt from `MOVED` redirections.
//!
//! Every script's keys share one hash tag, so they hash to one slot. An exchange goes to the
//! node last known to hold that slot (the URL's node at first); a `MOVED SLOT HOST:PORT` answer
//! names the owner, which is remembered and asked at once. A server that is not a cluster
//! never answers `MOVED`, and everything goes to the URL's node.
//!
//! # Reference
//! <https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/> ("Hash tags",
//! "Keys distribution model", "MOVED Redirection").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::resp::{Pool, RespError};
use crate::RedisUrl;

/// How many hash slots a cluster has.
const SLOTS: u16 = 16384;

/// The nodes seen so far and the slots each is known to hold.
pub(crate) struct Nodes {
    seed: Arc<Pool>,
    url: RedisUrl,
    by_address: Mutex<HashMap<(String, u16), Arc<Pool>>>,
    by_slot: Mutex<HashMap<u16, Arc<Pool>>>,
}

impl Nodes {
    pub(crate) fn new(url: RedisUrl) -> Result<Self, RespError> {
        Ok(Self {
            seed: Arc::new(Pool::new(url.clone())?),
            url,
            by_address: Mutex::default(),
            by_slot: Mutex::default(),
        })
    }

    /// The URL's own node.
    pub(crate) fn seed(&self) -> Arc<Pool> {
        Arc::clone(&self.seed)
    }

    /// The node to ask about `slot`.
    pub(crate) fn for_slot(&self, slot: u16) -> Arc<Pool> {
        let known = self
            .by_slot
            .lock()
            .ok()
            .and_then(|slots| slots.get(&slot).cloned());
        known.unwrap_or_else(|| self.seed())
    }

    /// Learns a `MOVED` answer's owner of a slot and returns its node; `None` when `message`
    /// is no `MOVED SLOT HOST:PORT`.
    pub(crate) fn moved(&self, message: &str) -> Option<Result<Arc<Pool>, RespError>> {
        let (slot, host, port) = parse_moved(message)?;
        Some(self.node(host, port).inspect(|pool| {
            if let Ok(mut slots) = self.by_slot.lock() {
                slots.insert(slot, Arc::clone(pool));
            }
        }))
    }

    /// The pool for `host:port`, with the URL's credentials and TLS.
    fn node(&self, host: String, port: u16) -> Result<Arc<Pool>, RespError> {
        if host == self.url.host && port == self.url.port {
            return Ok(self.seed());
        }
        let mut nodes = self
            .by_address
            .lock()
            .map_err(|_| RespError::Protocol("the node table was poisoned"))?;
        if let Some(pool) = nodes.get(&(host.clone(), port)) {
            return Ok(Arc::clone(pool));
        }
        let url = RedisUrl {
            host: host.clone(),
            port,
            ..self.url.clone()
        };
        let pool = Arc::new(Pool::new(url)?);
        nodes.insert((host, port), Arc::clone(&pool));
        Ok(pool)
    }

    /// Drops every idle connection of every node.
    pub(crate) fn clear(&self) {
        self.seed.clear();
        if let Ok(nodes) = self.by_address.lock() {
            nodes.values().for_each(|pool| pool.clear());
        }
    }
}

/// `MOVED 3999 127.0.0.1:6381` (an IPv6 host is written without brackets, its port after the
/// last `:`).
fn parse_moved(message: &str) -> Option<(u16, String, u16)> {
    let mut parts = message.split_whitespace();
    if parts.next()? != "MOVED" {
        return None;
    }
    let slot: u16 = parts.next()?.parse().ok().filter(|s| *s < SLOTS)?;
    let (host, port) = parts.next()?.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((slot, host.to_owned(), port.parse().ok()?))
}

/// The slot of `key`: CRC16 (XMODEM) of its hash tag (the text between the first `{` and the
/// next `}`, when not empty) or of the whole key, modulo 16384.
pub(crate) fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|b| *b == b'{').and_then(|open| {
        let rest = &bytes[open + 1..];
        let close = rest.iter().position(|b| *b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(bytes)) % SLOTS
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster hashes keys.
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_specifications_check_value() {
        // The cluster specification's appendix: CRC16 of "123456789" is 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn slots_follow_the_hash_tag_rules_of_the_specification() {
        // The specification's examples: {user1000}.following and {user1000}.followers share
        // a slot; foo{}{bar} hashes whole; foo{{bar}} hashes "{bar"; foo{bar}{zap} hashes "bar".
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("{user1000}.following"), slot("user1000"));
        assert_eq!(slot("foo{}{bar}"), crc16(b"foo{}{bar}") % SLOTS);
        assert_eq!(slot("foo{{bar}}zap"), slot("{bar"));
        assert_eq!(slot("foo{bar}{zap}"), slot("bar"));
        // `CLUSTER KEYSLOT foo` on Redis 7 answers 12182.
        assert_eq!(slot("foo"), 12182);
    }

    #[test]
    fn moved_answers_are_read_and_others_are_not() {
        assert_eq!(
            parse_moved("MOVED 3999 127.0.0.1:6381"),
            Some((3999, "127.0.0.1".into(), 6381))
        );
        assert_eq!(
            parse_moved("MOVED 1 ::1:7000"),
            Some((1, "::1".into(), 7000))
        );
        assert_eq!(parse_moved("ASK 3999 127.0.0.1:6381"), None);
        assert_eq!(parse_moved("MOVED 16384 h:1"), None);
        assert_eq!(parse_moved("MOVED 1 :1"), None);
        assert_eq!(parse_moved("ERR unknown"), None);
    }
}
