//! A small RESP2 client: one connection, commands out as arrays of bulk strings, replies in,
//! and the pool of idle connections the Redis backend draws from.
//!
//! Only what the backend needs: `AUTH`, `SELECT`, `PING`, `EVALSHA`/`EVAL`. Replies are
//! bounded (a bulk string at most 1 MiB, an array at most 64 Ki elements, nested at most 4
//! deep), so a confused or hostile server cannot make the process allocate without limit.
//!
//! # Reference
//! <https://redis.io/docs/latest/develop/reference/protocol-spec/>

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use crate::RedisUrl;

/// The longest bulk string read.
const MAX_BULK: usize = 1 << 20;
/// The most elements read in one array.
const MAX_ARRAY: usize = 1 << 16;
/// The deepest arrays nest.
const MAX_DEPTH: usize = 4;
/// The longest line (a simple string, an error, a length) read.
const MAX_LINE: usize = 4096;
/// How many idle connections are kept for reuse.
const MAX_IDLE: usize = 16;

/// A reply, as RESP2 has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR …`: the server refused the command.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$n` and n bytes; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*n` and n replies; `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

/// Why an exchange failed; the connection is dropped after any of them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RespError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not RESP2 within the limits.
    #[error("malformed reply: {0}")]
    Protocol(&'static str),
    /// The server answered the connection's set-up (`AUTH`, `SELECT`) with an error.
    #[error("{0}")]
    Refused(String),
}

/// The stream under a connection: TCP, or TLS over TCP.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One connection to the server, authenticated and on its database.
pub(crate) struct Connection {
    stream: BufStream<Box<dyn Io>>,
}

impl Connection {
    /// Connects to `url`'s host, with TLS for `rediss://`, then `AUTH` and `SELECT` as the URL
    /// says.
    pub(crate) async fn open(
        url: &RedisUrl,
        tls: Option<&TlsConnector>,
    ) -> Result<Self, RespError> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        tcp.set_nodelay(true)?;
        let io: Box<dyn Io> = match tls {
            Some(connector) => {
                let name = ServerName::try_from(url.host.clone())
                    .map_err(|_| RespError::Refused("the host is not a TLS server name".into()))?;
                Box::new(connector.connect(name, tcp).await?)
            }
            None => Box::new(tcp),
        };
        let mut connection = Self {
            stream: BufStream::new(io),
        };
        if let Some(password) = &url.password {
            let mut auth: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &url.user {
                auth.push(user.as_bytes());
            }
            auth.push(password.as_bytes());
            connection.setup(&auth, "AUTH").await?;
        }
        if url.db != 0 {
            let db = url.db.to_string();
            connection
                .setup(&[b"SELECT", db.as_bytes()], "SELECT")
                .await?;
        }
        Ok(connection)
    }

    /// A set-up command whose error reply is reported by name only (an `AUTH` error could
    /// in principle quote what was sent).
    async fn setup(&mut self, command: &[&[u8]], name: &str) -> Result<(), RespError> {
        match self.call(command).await? {
            Reply::Error(message) => {
                let code = message
                    .split_whitespace()
                    .next()
                    .unwrap_or("ERR")
                    .to_owned();
                Err(RespError::Refused(format!("{name} was refused ({code})")))
            }
            _ => Ok(()),
        }
    }

    /// Sends one command and reads its reply.
    pub(crate) async fn call(&mut self, command: &[&[u8]]) -> Result<Reply, RespError> {
        self.stream.write_all(&encode(command)).await?;
        self.stream.flush().await?;
        self.read_reply(0).await
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, RespError> {
        let mut line = Vec::with_capacity(16);
        let read = (&mut self.stream)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Err(RespError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        if !line.ends_with(b"\r\n") {
            return Err(RespError::Protocol("a line without CRLF, or too long"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_reply(
        &mut self,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Reply, RespError>> + Send + '_>> {
        Box::pin(async move {
            let line = self.read_line().await?;
            let (kind, rest) = line
                .split_first()
                .ok_or(RespError::Protocol("an empty line"))?;
            let text = || String::from_utf8_lossy(rest).into_owned();
            match kind {
                b'+' => Ok(Reply::Simple(text())),
                b'-' => Ok(Reply::Error(text())),
                b':' => Ok(Reply::Integer(number(rest)?)),
                b'$' => self.read_bulk(number(rest)?).await,
                b'*' => self.read_array(number(rest)?, depth).await,
                _ => Err(RespError::Protocol("an unknown reply type")),
            }
        })
    }

    async fn read_bulk(&mut self, len: i64) -> Result<Reply, RespError> {
        let Ok(len) = usize::try_from(len) else {
            return Ok(Reply::Bulk(None));
        };
        if len > MAX_BULK {
            return Err(RespError::Protocol("a bulk string over 1 MiB"));
        }
        let mut bytes = vec![0; len + 2];
        self.stream.read_exact(&mut bytes).await?;
        if !bytes.ends_with(b"\r\n") {
            return Err(RespError::Protocol("a bulk string without its CRLF"));
        }
        bytes.truncate(len);
        Ok(Reply::Bulk(Some(bytes)))
    }

    async fn read_array(&mut self, len: i64, depth: usize) -> Result<Reply, RespError> {
        let Ok(len) = usize::try_from(len) else {
            return Ok(Reply::Array(None));
        };
        if len > MAX_ARRAY || depth >= MAX_DEPTH {
            return Err(RespError::Protocol("an array too long or too deep"));
        }
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.read_reply(depth + 1).await?);
        }
        Ok(Reply::Array(Some(items)))
    }
}

/// A length or an integer reply: ASCII digits with an optional `-`.
fn number(digits: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(RespError::Protocol("a number that is not one"))
}

/// A command as RESP2 sends it: `*<n>\r\n` and each part as `$<len>\r\n<bytes>\r\n`.
pub(crate) fn encode(command: &[&[u8]]) -> Vec<u8> {
    let size: usize = command.iter().map(|part| part.len() + 16).sum();
    let mut out = Vec::with_capacity(size + 16);
    out.extend_from_slice(format!("*{}\r\n", command.len()).as_bytes());
    for part in command {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The TLS client for `rediss://`: rustls with ring, the web's roots (webpki-roots).
pub(crate) fn tls_connector() -> Result<TlsConnector, RespError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| RespError::Refused(format!("TLS set-up: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Idle connections to one server, reused by the next exchange. A connection leaves the pool
/// for one exchange and comes back only if the exchange finished cleanly: one that failed or
/// was abandoned at the deadline is dropped, so the next exchange connects afresh.
pub(crate) struct Pool {
    url: RedisUrl,
    tls: Option<TlsConnector>,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub(crate) fn new(url: RedisUrl) -> Result<Self, RespError> {
        let tls = if url.tls {
            Some(tls_connector()?)
        } else {
            None
        };
        Ok(Self {
            url,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection (`true`: reused, it may have died since), or a new one.
    pub(crate) async fn take(&self) -> Result<(Connection, bool), RespError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(connection) => Ok((connection, true)),
            None => Ok((Connection::open(&self.url, self.tls.as_ref()).await?, false)),
        }
    }

    /// Gives back a connection whose exchange finished cleanly.
    pub(crate) fn put(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(connection);
        }
    }

    /// Drops every idle connection (after a fault, they may all be dead).
    pub(crate) fn clear(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        // The example in the protocol specification ("Sending commands to a Redis server").
        assert_eq!(
            encode(&[b"LLEN", b"mylist"]),
            b"*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n".to_vec()
        );
        assert_eq!(
            encode(&[b"A", b""]),
            b"*2\r\n$1\r\nA\r\n$0\r\n\r\n".to_vec()
        );
    }

    async fn parse(wire: &[u8]) -> Result<Reply, RespError> {
        let (client, mut server) = tokio::io::duplex(1 << 21);
        server.write_all(wire).await.expect("write");
        drop(server);
        let mut connection = Connection {
            stream: BufStream::new(Box::new(client)),
        };
        connection.read_reply(0).await
    }

    #[tokio::test]
    async fn every_reply_type_is_read() {
        assert_eq!(
            parse(b"+OK\r\n").await.ok(),
            Some(Reply::Simple("OK".into()))
        );
        assert_eq!(
            parse(b"-NOSCRIPT No matching script\r\n").await.ok(),
            Some(Reply::Error("NOSCRIPT No matching script".into()))
        );
        assert_eq!(parse(b":-7\r\n").await.ok(), Some(Reply::Integer(-7)));
        assert_eq!(parse(b"$-1\r\n").await.ok(), Some(Reply::Bulk(None)));
        assert_eq!(
            parse(b"*2\r\n:1\r\n$3\r\na\r\n\r\n").await.ok(),
            Some(Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Bulk(Some(b"a\r\n".to_vec()))
            ])))
        );
    }

    #[tokio::test]
    async fn oversized_deep_or_broken_replies_are_refused() {
        assert!(parse(b"$2000000\r\n").await.is_err());
        assert!(parse(b"*100000\r\n").await.is_err());
        assert!(
            parse(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
                .await
                .is_err()
        );
        assert!(parse(b":12x\r\n").await.is_err());
        assert!(parse(b"+OK\n").await.is_err());
        assert!(parse(b"$3\r\nab").await.is_err());
        assert!(parse(b"?\r\n").await.is_err());
        assert!(parse(&[b'+'; 5000]).await.is_err());
    }
}
