//! How HTTP mode ([`crate::http::serve_http`]) shares its connections, so that one client
//! cannot starve the others:
//!
//! - at most [`Limits::connections`] connections at once, derived from the process's
//!   open-file limit ([`Limits::for_open_files`]), and at most [`Limits::per_peer`] from one
//!   address (an IPv6 /64 counts as one address); a connection over the per-address limit is
//!   answered 503 `TooManyConnections` and closed at once;
//! - a connection that sends nothing within [`Limits::first_byte`] is closed;
//! - when every slot is taken, the oldest connection that has sent nothing is closed to make
//!   room for the new one, else the oldest one that has no request being answered (between
//!   requests, or still sending its head); a connection whose request is being answered is
//!   never closed for room, and when all are, the new connection gets the 503;
//! - a failing `accept` (EMFILE, ENFILE, ...) is retried after 10 ms, doubling to 1 s, with
//!   one warning when such a burst starts and one line with its count when it ends
//!   ([`AcceptBackoff`]).
//!
//! And, listening on a loopback address, it answers only requests whose `Host` names this
//! machine's loopback ([`loopback_only`]): a web page the browser was made to resolve to
//! 127.0.0.1 (DNS rebinding) names its own host, and gets 421 `MisdirectedRequest`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tracing::debug;

use crate::http::Handler;
use crate::response::{self, ErrorBody};

/// The most connections HTTP mode ever serves at once, however high the open-file limit.
pub(crate) const MAX_CONNECTIONS: usize = 4096;

/// Open files kept out of the connection limit: the STS client's connections, the log, the
/// runtime's own descriptors, and a connection being refused.
pub(crate) const FILE_HEADROOM: u64 = 64;

/// The fewest connections served at once, however low the open-file limit.
pub(crate) const MIN_CONNECTIONS: usize = 16;

/// The per-address limit is a quarter of the connection limit, but at least this many (or
/// the whole limit when it is lower): a reverse proxy or Function Compute's front end sends
/// every caller from one address.
pub(crate) const MIN_PER_PEER: usize = 64;

/// The open-file limit assumed when it cannot be read (no `/proc/self/limits`): macOS's
/// default soft limit.
pub(crate) const ASSUMED_OPEN_FILES: u64 = 256;

/// How long a new connection may stay silent before it is closed.
pub(crate) const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(3);

/// The first pause after a failed `accept`; each further failure doubles it.
pub(crate) const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(10);

/// The longest pause after failed `accept`s.
pub(crate) const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How often, at most, refused and closed-for-room connections are summarised in the log.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// How many connections HTTP mode serves, from one address and in all, and how long a new
/// one may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The most connections open at once.
    pub connections: usize,
    /// The most connections open at once from one address (an IPv6 /64 is one address).
    pub per_peer: usize,
    /// How long a new connection may take to send its first byte.
    pub first_byte: Duration,
}

impl Limits {
    /// The limits for a process whose soft `RLIMIT_NOFILE` is `soft` (`None`: unknown, taken
    /// as [`ASSUMED_OPEN_FILES`]): that minus [`FILE_HEADROOM`], within [`MIN_CONNECTIONS`]
    /// and [`MAX_CONNECTIONS`]; a quarter of that per address, but at least
    /// [`MIN_PER_PEER`].
    pub(crate) fn for_open_files(soft: Option<u64>) -> Self {
        let usable = soft
            .unwrap_or(ASSUMED_OPEN_FILES)
            .saturating_sub(FILE_HEADROOM);
        let connections = usize::try_from(usable)
            .unwrap_or(usize::MAX)
            .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
        Self {
            connections,
            per_peer: (connections / 4).max(MIN_PER_PEER.min(connections)),
            first_byte: FIRST_BYTE_TIMEOUT,
        }
    }

    /// The limits for this process's open-file limit ([`open_files_limit`]).
    pub(crate) fn from_process() -> Self {
        Self::for_open_files(open_files_limit())
    }
}

/// This process's soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (`u64::MAX` when
/// unlimited); `None` where that cannot be read.
pub(crate) fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .as_deref()
        .and_then(parse_open_files)
}

/// The soft limit on the `Max open files` line of a `/proc/<pid>/limits` text.
fn parse_open_files(limits: &str) -> Option<u64> {
    let rest = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    match rest.split_whitespace().next()? {
        "unlimited" => Some(u64::MAX),
        soft => soft.parse().ok(),
    }
}

/// The address a connection is counted under: IPv4 addresses (also IPv4-mapped IPv6 ones)
/// as they are, IPv6 ones by their /64, which one subscriber usually holds whole.
fn peer_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// `handler`, answering only requests that name a loopback host ([`is_loopback_host`]) when
/// `listen` is a loopback address; others get 421 `MisdirectedRequest` before `handler` runs.
/// Listening elsewhere (`BIND=0.0.0.0` under Function Compute and in containers), every
/// request goes to `handler`.
///
/// A page on any site can make the browser send requests to 127.0.0.1: naming it outright,
/// which CORS and the functions' own checks answer, or naming a host of its own that its DNS
/// then points at 127.0.0.1 (DNS rebinding), which makes the request same-origin for that page.
/// Such a request still carries the page's host in `Host`, which is what is checked here.
pub(crate) fn loopback_only(listen: SocketAddr, handler: impl Handler) -> impl Handler {
    let checked = listen.ip().to_canonical().is_loopback();
    move |request: lambda_http::Request| {
        let refused = if checked { misdirected(&request) } else { None };
        let handler = handler.clone();
        async move {
            match refused {
                Some(answer) => answer,
                None => handler.answer(request).await,
            }
        }
    }
}

/// The 421 answer for `request` unless its `Host` (and its target's authority, when it has
/// one) names a loopback host; an absent `Host` is refused too.
fn misdirected(request: &lambda_http::Request) -> Option<lambda_http::Response<lambda_http::Body>> {
    let host = request.headers().get(http::header::HOST);
    let named = host
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_loopback_host)
        && request
            .uri()
            .authority()
            .is_none_or(|authority| is_loopback_host(authority.as_str()));
    if named {
        return None;
    }
    debug!(host = ?host, "refused a request naming another host: 421 MisdirectedRequest");
    Some(response::error(
        http::StatusCode::MISDIRECTED_REQUEST,
        "MisdirectedRequest",
        "this server answers only requests for localhost or a loopback address",
    ))
}

/// Whether `host`, a `Host` header's value, names this machine's loopback: `localhost` or a
/// loopback address (`127.0.0.1`, any of 127.0.0.0/8, `[::1]`), with or without a port, in
/// any case. A name other than `localhost` never passes, whatever it resolves to.
///
/// # Format
///
/// `uri-host [ ":" port ]`, an IPv6 address in brackets.
///
/// # Reference
///
/// <https://www.rfc-editor.org/rfc/rfc9110#name-host-and-authority>
pub(crate) fn is_loopback_host(host: &str) -> bool {
    // The port follows the last ':', unless that ':' is inside an IPv6 address's brackets.
    let (name, port) = match host.rfind(':') {
        Some(at) if !host[at..].contains(']') => (&host[..at], &host[at + 1..]),
        _ => (host, ""),
    };
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match name.strip_prefix('[').and_then(|v6| v6.strip_suffix(']')) {
        Some(v6) => v6
            .parse::<Ipv6Addr>()
            .is_ok_and(|ip| IpAddr::V6(ip).to_canonical().is_loopback()),
        None => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// The pauses between failed `accept`s, and when to log them: a burst of failures gets one
/// warning when it starts ([`AcceptBackoff::failed`] says so) and one line with its count
/// when the next `accept` succeeds ([`AcceptBackoff::succeeded`]).
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u64,
    pause: Duration,
}

impl AcceptBackoff {
    /// Counts a failed `accept`: how long to pause before the next, and whether this failure
    /// starts a burst (log it then, and only then).
    pub(crate) fn failed(&mut self) -> (Duration, bool) {
        let starts = self.failures == 0;
        self.failures += 1;
        self.pause = if starts {
            ACCEPT_BACKOFF_FIRST
        } else {
            (self.pause * 2).min(ACCEPT_BACKOFF_MAX)
        };
        (self.pause, starts)
    }

    /// Counts a successful `accept`: the number of failures in the burst it ends, if any.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        let failures = std::mem::take(&mut self.failures);
        self.pause = Duration::ZERO;
        (failures > 0).then_some(failures)
    }
}

/// Whether a failed `accept` concerns only the connection it would have returned (it was
/// reset before it could be taken), so that the next `accept` needs no pause.
pub(crate) fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

// A connection's phase and the number of its requests being answered, in one word, so that
// closing it for room cannot race with a request arriving: the low two bits are the phase,
// the rest the count.
const FRESH: usize = 0; // nothing heard yet
const OPEN: usize = 1; // something heard
const CLOSING: usize = 2; // to be closed: silent too long, or to make room
const PHASE: usize = 0b11;
const ONE_BUSY: usize = 0b100;

/// One admitted connection, shared by its reads ([`Watched`]), its requests
/// ([`Tracked::busy`]), its task and the accept loop.
pub(crate) struct Tracked {
    state: AtomicUsize,
    close: Notify,
}

impl Tracked {
    fn new() -> Self {
        Self {
            state: AtomicUsize::new(FRESH),
            close: Notify::new(),
        }
    }

    fn heard(&self) {
        if self.state.load(Ordering::Relaxed) == FRESH {
            let _ = self
                .state
                .compare_exchange(FRESH, OPEN, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Marks a request as being answered until the returned guard is dropped (hold it until
    /// the answer's body is sent): the connection is not closed for room meanwhile.
    pub(crate) fn busy(self: &Arc<Self>) -> Busy {
        let counted = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                (state & PHASE != CLOSING).then_some((state | OPEN) + ONE_BUSY)
            })
            .is_ok();
        Busy {
            tracked: counted.then(|| Arc::clone(self)),
        }
    }

    /// Closes the connection if it has still sent nothing; whether it did.
    pub(crate) fn close_if_silent(&self) -> bool {
        self.close_if(FRESH)
    }

    /// Marks the connection to be closed if its whole state is `state` (a phase with no
    /// request being answered), and tells its task.
    fn close_if(&self, state: usize) -> bool {
        let closing = self
            .state
            .compare_exchange(state, CLOSING, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if closing {
            self.close.notify_one();
        }
        closing
    }

    /// Completes when the accept loop closes this connection to make room.
    pub(crate) async fn closed_for_room(&self) {
        self.close.notified().await;
    }
}

/// A request being answered (see [`Tracked::busy`]).
pub(crate) struct Busy {
    tracked: Option<Arc<Tracked>>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(tracked) = &self.tracked {
            tracked.state.fetch_sub(ONE_BUSY, Ordering::AcqRel);
        }
    }
}

impl Busy {
    /// `body`, keeping the request marked as being answered until hyper drops it, having
    /// sent it.
    pub(crate) fn until_sent<B>(self, body: B) -> Sending<B> {
        Sending { body, _busy: self }
    }
}

/// An answer's body and the [`Busy`] mark of its request.
pub(crate) struct Sending<B> {
    body: B,
    _busy: Busy,
}

impl<B: Body + Unpin> Body for Sending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket, telling its [`Tracked`] when the first byte arrives, and failing a
/// write that has made no progress for [`WRITE_STALL_TIMEOUT`]: a client that sends requests
/// but never reads the answers would otherwise keep its connection "answering" (never closed
/// for room) for good, and enough of them would hold every slot.
pub(crate) struct Watched {
    stream: TcpStream,
    tracked: Arc<Tracked>,
    /// Armed when a write first finds the socket full; cleared by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long an answer's write may make no progress before the connection is closed.
pub(crate) const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Watched {
    pub(crate) fn new(stream: TcpStream, tracked: Arc<Tracked>) -> Self {
        Self {
            stream,
            tracked,
            stalled: None,
        }
    }

    /// `polled`, unless it is still pending [`WRITE_STALL_TIMEOUT`] after the first pending
    /// write: then a `TimedOut` error, which makes hyper close the connection.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of its answer for 10 s",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.tracked.heard();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.deadline(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_flush(cx);
        this.deadline(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Why a new connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its address already has [`Limits::per_peer`] connections open.
    Peer,
    /// Every slot is taken by a connection whose request is being answered.
    Full,
}

static PEER_ANSWER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    refusal_answer("too many connections from one address; retry after closing some")
});
static FULL_ANSWER: LazyLock<Vec<u8>> =
    LazyLock::new(|| refusal_answer("every connection slot is busy; retry shortly"));

/// A whole `503 TooManyConnections` answer, as the function's other errors are shaped.
fn refusal_answer(message: &str) -> Vec<u8> {
    let body = serde_json::to_string(&ErrorBody {
        status_code: 503,
        error_code: "TooManyConnections",
        error_message: message,
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Refusal {
    /// Answers 503 and closes the connection, without waiting for anything: what the socket
    /// takes at once is all that is sent.
    pub(crate) fn answer(self, stream: TcpStream) {
        let Ok(mut stream) = stream.into_std() else {
            return;
        };
        // Take what already arrived, so that closing does not reset the connection and lose
        // the answer.
        let mut scratch = [0; 4096];
        for _ in 0..4 {
            if !matches!(stream.read(&mut scratch), Ok(n) if n > 0) {
                break;
            }
        }
        let answer = match self {
            Self::Peer => &PEER_ANSWER,
            Self::Full => &FULL_ANSWER,
        };
        let _ = stream.write(answer);
    }
}

/// What the log says about refused and closed-for-room connections: the first one at once,
/// then a summary at most every 10 s while they go on.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    last_logged: Option<Instant>,
    /// Refused since the last summary: over the per-address limit.
    pub(crate) peer: u64,
    /// Refused since the last summary: every slot busy.
    pub(crate) full: u64,
    /// Closed since the last summary to make room.
    pub(crate) made_room: u64,
}

impl Refusals {
    /// Counts one event (a refusal, or `None`: a connection closed for room); whether to log
    /// the counts now (then read them and [`Refusals::logged`]).
    pub(crate) fn note(&mut self, refusal: Option<Refusal>, now: Instant) -> bool {
        match refusal {
            Some(Refusal::Peer) => self.peer += 1,
            Some(Refusal::Full) => self.full += 1,
            None => self.made_room += 1,
        }
        self.last_logged
            .is_none_or(|at| now.duration_since(at) >= REFUSALS_LOGGED_EVERY)
    }

    /// Starts counting afresh after the counts were logged at `now`.
    pub(crate) fn logged(&mut self, now: Instant) {
        *self = Self {
            last_logged: Some(now),
            ..Self::default()
        };
    }
}

/// The open connections, by age and by address, and the slots they hold.
pub(crate) struct Registry {
    limits: Limits,
    slots: Arc<Semaphore>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By admission order: the first is the oldest.
    open: BTreeMap<u64, Arc<Tracked>>,
    per_peer: HashMap<IpAddr, usize>,
    next_id: u64,
}

/// A connection let in: its [`Tracked`], and its place, given back when dropped.
pub(crate) struct Admission {
    /// The connection as the others see it.
    pub(crate) tracked: Arc<Tracked>,
    /// Its place; drop it after the socket.
    pub(crate) slot: Slot,
    /// Whether another connection was closed to make room for it.
    pub(crate) made_room: bool,
}

/// An open connection's place in the [`Registry`].
pub(crate) struct Slot {
    registry: Arc<Registry>,
    id: Option<u64>,
    peer: IpAddr,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.registry.lock();
        if let Some(id) = self.id {
            inner.open.remove(&id);
        }
        if let Some(count) = inner.per_peer.get_mut(&self.peer) {
            *count -= 1;
            if *count == 0 {
                inner.per_peer.remove(&self.peer);
            }
        }
    }
}

impl Registry {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            slots: Arc::new(Semaphore::new(limits.connections)),
            inner: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a connection from `peer` in, closing another to make room if it must and waiting
    /// for that one's slot; or says why not.
    pub(crate) async fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admission, Refusal> {
        let peer = peer_key(peer);
        // Counted for its address now; the slot gives the count back if this fails.
        let mut slot = {
            let mut inner = self.lock();
            if inner.per_peer.get(&peer).copied().unwrap_or(0) >= self.limits.per_peer {
                return Err(Refusal::Peer);
            }
            *inner.per_peer.entry(peer).or_default() += 1;
            Slot {
                registry: Arc::clone(self),
                id: None,
                peer,
                _permit: None,
            }
        };
        let mut made_room = false;
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !self.close_one_for_room() {
                    return Err(Refusal::Full);
                }
                made_room = true;
                // The closed connection's task gives its slot back as soon as it runs.
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| Refusal::Full)?
            }
        };
        let tracked = Arc::new(Tracked::new());
        {
            let mut inner = self.lock();
            let id = inner.next_id;
            inner.next_id += 1;
            inner.open.insert(id, Arc::clone(&tracked));
            slot.id = Some(id);
        }
        slot._permit = Some(permit);
        Ok(Admission {
            tracked,
            slot,
            made_room,
        })
    }

    /// Closes the oldest connection that has sent nothing, else the oldest with no request
    /// being answered; whether there was one.
    fn close_one_for_room(&self) -> bool {
        let inner = self.lock();
        [FRESH, OPEN]
            .into_iter()
            .any(|state| inner.open.values().any(|tracked| tracked.close_if(state)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_follows_the_open_file_limit() {
        let limits = |soft| {
            let limits = Limits::for_open_files(soft);
            (limits.connections, limits.per_peer)
        };
        // The usual soft limits: 1024 (most Linux distributions), 256 (macOS), 65536 and
        // unlimited (containers, Function Compute).
        assert_eq!(limits(Some(1024)), (960, 240));
        assert_eq!(limits(Some(256)), (192, 64));
        assert_eq!(limits(Some(65536)), (MAX_CONNECTIONS, MAX_CONNECTIONS / 4));
        assert_eq!(
            limits(Some(u64::MAX)),
            (MAX_CONNECTIONS, MAX_CONNECTIONS / 4)
        );
        assert_eq!(limits(Some(4096 + 64)), (4096, 1024));
        assert_eq!(limits(Some(4096 + 63)), (4095, 1023));
        // Low limits: the headroom is kept while it can be; the per-address limit never
        // exceeds the whole.
        assert_eq!(limits(Some(100)), (36, 36));
        assert_eq!(limits(Some(64)), (MIN_CONNECTIONS, MIN_CONNECTIONS));
        assert_eq!(limits(Some(0)), (MIN_CONNECTIONS, MIN_CONNECTIONS));
        // Unknown: taken as 256.
        assert_eq!(limits(None), (192, 64));
        assert_eq!(Limits::for_open_files(None).first_byte, FIRST_BYTE_TIMEOUT);
    }

    #[test]
    fn the_open_file_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n\
                    Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(parse_open_files(text), Some(1024));
        assert_eq!(
            parse_open_files(&text.replace("1024     ", "unlimited")),
            Some(u64::MAX)
        );
        assert_eq!(
            parse_open_files("Max cpu time  unlimited  unlimited  seconds"),
            None
        );
        assert_eq!(parse_open_files("Max open files  lots  lots  files"), None);
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|soft| soft > 0));
        }
    }

    #[test]
    fn connections_are_counted_by_address_and_ipv6_by_its_slash_64() {
        let key = |s: &str| peer_key(s.parse().expect("address"));
        assert_eq!(key("203.0.113.7"), key("::ffff:203.0.113.7"));
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn failed_accepts_back_off_from_10_ms_to_1_s_and_log_once_a_burst() {
        let mut backoff = AcceptBackoff::default();
        assert_eq!(backoff.succeeded(), None, "no burst, nothing to log");
        // The finding's burst: 195 failures in a row.
        let burst: Vec<(Duration, bool)> = (0..195).map(|_| backoff.failed()).collect();
        let millis: Vec<u128> = burst.iter().take(9).map(|(p, _)| p.as_millis()).collect();
        assert_eq!(millis, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert!(burst[8..].iter().all(|(p, _)| *p == ACCEPT_BACKOFF_MAX));
        let warnings = burst.iter().filter(|(_, starts)| *starts).count();
        assert_eq!(warnings, 1, "one warning for the burst");
        assert!(burst[0].1, "and it comes with the first failure");
        assert_eq!(backoff.succeeded(), Some(195), "the count when it ends");
        assert_eq!(backoff.succeeded(), None, "said once");
        // The next burst starts over.
        assert_eq!(backoff.failed(), (ACCEPT_BACKOFF_FIRST, true));
        assert_eq!(backoff.failed(), (ACCEPT_BACKOFF_FIRST * 2, false));
        assert_eq!(backoff.succeeded(), Some(2));
    }

    #[test]
    fn only_failures_of_one_connection_are_retried_without_a_pause() {
        for kind in [
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::ConnectionReset,
        ] {
            assert!(is_connection_error(&io::Error::from(kind)));
        }
        // EMFILE, ENFILE, ENOBUFS.
        for errno in [24, 23, 105] {
            assert!(!is_connection_error(&io::Error::from_raw_os_error(errno)));
        }
    }

    #[test]
    fn refusals_are_logged_at_once_then_summarised_every_10_seconds() {
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        let mut refusals = Refusals::default();
        assert!(
            refusals.note(Some(Refusal::Peer), at(0)),
            "the first at once"
        );
        refusals.logged(at(0));
        let logged: Vec<bool> = (0..400)
            .map(|i| refusals.note(Some(Refusal::Peer), start + Duration::from_millis(i * 20)))
            .collect();
        assert!(logged.iter().all(|l| !l), "not again within 10 s");
        assert!(!refusals.note(None, at(9)));
        assert!(refusals.note(Some(Refusal::Full), at(10)));
        assert_eq!(
            (refusals.peer, refusals.full, refusals.made_room),
            (400, 1, 1)
        );
        refusals.logged(at(10));
        assert_eq!(
            (refusals.peer, refusals.full, refusals.made_room),
            (0, 0, 0)
        );
    }

    #[test]
    fn the_refusal_is_a_whole_503_in_the_shape_of_every_error() {
        let answer = String::from_utf8(PEER_ANSWER.clone()).expect("text");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("retry-after: 1"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(body["StatusCode"], 503);
        assert_eq!(body["ErrorCode"], "TooManyConnections");
        assert!(body["ErrorMessage"].is_string());
    }

    #[test]
    fn a_request_being_answered_keeps_its_connection_from_being_closed_for_room() {
        let tracked = Arc::new(Tracked::new());
        tracked.heard();
        let busy = tracked.busy();
        assert!(!tracked.close_if(FRESH) && !tracked.close_if(OPEN));
        let second = tracked.busy();
        drop(busy);
        assert!(!tracked.close_if(OPEN), "still one being answered");
        drop(second);
        assert!(tracked.close_if(OPEN), "between requests it may be closed");
        // Closing wins over a request that arrives after it.
        let late = tracked.busy();
        assert!(late.tracked.is_none());
        drop(late);
        assert_eq!(tracked.state.load(Ordering::Relaxed), CLOSING);
    }

    #[test]
    fn loopback_hosts_are_named_by_localhost_or_a_loopback_address_with_any_port() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:9000",
            "localhost",
            "LocalHost:8080",
            "[::1]",
            "[::1]:9000",
            "127.0.0.2:80",
            "[::ffff:127.0.0.1]:1",
            "localhost:",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "x",
            "attacker.example",
            "attacker.example:9000",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "localhost.",
            "app.localhost",
            "0.0.0.0",
            "192.168.1.2:9000",
            "::1",
            "[::1",
            "[::2]:9000",
            "127.0.0.1:port",
            "127.0.0.1:123456",
            "127.0.0.1:9000:9000",
            "user@127.0.0.1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    /// A server of `loopback_only` on `bind` that answers `handled` to what it lets through.
    async fn serve_loopback_only(bind: &str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
        let address = listener.local_addr().expect("address");
        let handler = |_: lambda_http::Request| async {
            lambda_http::Response::new(lambda_http::Body::Text("handled".to_owned()))
        };
        tokio::spawn(crate::http::serve_http_with(
            listener,
            Limits::for_open_files(None),
            loopback_only(address, handler),
            std::future::pending(),
        ));
        address
    }

    async fn exchange(address: SocketAddr, raw: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.write_all(raw.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn listening_on_loopback_a_request_naming_another_host_is_misdirected() {
        let address = serve_loopback_only("127.0.0.1:0").await;
        let post = |host: &str| {
            let host = if host.is_empty() {
                String::new()
            } else {
                format!("Host: {host}\r\n")
            };
            format!(
                "POST /invoke HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            )
        };
        for host in ["attacker.example", "attacker.example:9000", ""] {
            let answer = exchange(address, &post(host)).await;
            let (head, body) = answer.split_once("\r\n\r\n").expect("an answer");
            assert!(head.starts_with("HTTP/1.1 421 "), "{host:?}: {answer}");
            let body: serde_json::Value = serde_json::from_str(body).expect("JSON");
            assert_eq!(body["StatusCode"], 421, "{host:?}");
            assert_eq!(body["ErrorCode"], "MisdirectedRequest", "{host:?}");
            assert!(body["ErrorMessage"].is_string(), "{host:?}");
        }
        let port = address.port();
        for host in [
            format!("127.0.0.1:{port}"),
            "localhost".to_owned(),
            format!("LOCALHOST:{port}"),
        ] {
            let answer = exchange(address, &post(&host)).await;
            assert!(
                answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("handled"),
                "{host}: {answer}"
            );
        }
        // The target's own authority is held to the same rule.
        let absolute = format!(
            "GET http://attacker.example/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        );
        assert!(
            exchange(address, &absolute)
                .await
                .starts_with("HTTP/1.1 421 ")
        );
    }

    #[tokio::test]
    async fn listening_on_every_address_no_host_is_checked() {
        let address = serve_loopback_only("0.0.0.0:0").await;
        let local = SocketAddr::from(([127, 0, 0, 1], address.port()));
        let answer = exchange(
            local,
            "GET / HTTP/1.1\r\nHost: stsvend.example.com\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }
}
