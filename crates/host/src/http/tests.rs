//! The HTTP server's tests: limits, timeouts, shutdown and fair shares, over real sockets.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

async fn serve_echo() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    serve_echo_with(Limits::from_process()).await
}

async fn serve_echo_with(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_http_with(
        listener,
        limits,
        |request: Request| async move {
            Response::new(Body::Text(format!("{} bytes", request.body().len())))
        },
        async move {
            let _ = stopped.await;
        },
    ));
    (address, stop)
}

/// Sends a GET on `stream` and reads the echo server's answer, leaving the connection open.
async fn get_and_keep_alive(stream: &mut tokio::net::TcpStream) {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    let mut answer = Vec::new();
    while !answer.ends_with(b"0 bytes") {
        let mut chunk = [0; 1024];
        let n = stream.read(&mut chunk).await.expect("read");
        assert_ne!(n, 0, "closed before answering");
        answer.extend_from_slice(&chunk[..n]);
    }
}

async fn exchange(address: SocketAddr, raw: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(raw).await.expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_finishes_is_408_after_10_seconds() {
    let (address, _stop) = serve_echo().await;
    let started = tokio::time::Instant::now();
    let answer = exchange(
        address,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("\"ErrorCode\":\"RequestTimeout\""),
        "{answer}"
    );
    assert_eq!(started.elapsed().as_secs(), BODY_READ_TIMEOUT.as_secs());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_within_it_served() {
    let (address, _stop) = serve_echo().await;
    let small = exchange(
        address,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert!(
        small.starts_with("HTTP/1.1 200") && small.ends_with("5 bytes"),
        "{small}"
    );
    let big = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        MAX_BODY_BYTES + 1,
        "x".repeat(MAX_BODY_BYTES + 1)
    );
    let answer = exchange(address, big.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        &answer[..answer.len().min(200)]
    );
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_takes_no_new_ones() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The handler says when it has the request, and answers only when released.
    let (started, mut has_started) = tokio::sync::mpsc::channel::<()>(1);
    let release = Arc::new(tokio::sync::Notify::new());
    let released = Arc::clone(&release);
    let server = tokio::spawn(serve_http(
        listener,
        move |_request: Request| {
            let (started, released) = (started.clone(), Arc::clone(&released));
            async move {
                let _ = started.send(()).await;
                released.notified().await;
                Response::new(Body::Text("finished".to_owned()))
            }
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let in_flight = tokio::spawn(exchange(
        address,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ));
    has_started
        .recv()
        .await
        .expect("the request reached the handler");
    stop.send(()).expect("the server is running");
    // While that request is still unanswered, the listener closes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still accepting connections after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "the request in flight was dropped"
    );
    release.notify_one();
    let answer = in_flight.await.expect("join");
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("finished"),
        "{answer}"
    );
    server.await.expect("join").expect("a clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_reads_its_answer_gives_up_its_slot_after_10_seconds() {
    // One slot, and answers of 4 MiB: far more than the sockets' buffers hold.
    let limits = Limits {
        connections: 1,
        per_peer: 1,
        first_byte: Duration::from_secs(3),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_http_with(
        listener,
        limits,
        |_request: Request| async move { Response::new(Body::Binary(vec![b'x'; 4 << 20])) },
        async move {
            let _ = stopped.await;
        },
    ));
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let mut reader_that_never_reads = socket.connect(address).await.expect("connect");
    reader_that_never_reads
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let close = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let head = |answer: &str| answer.lines().next().unwrap_or_default().to_owned();
    // The one slot is the stalled answer's...
    assert_eq!(
        head(&exchange(address, close).await),
        "HTTP/1.1 503 Service Unavailable"
    );
    // ...until its write has made no progress for 10 s.
    tokio::time::sleep(crate::http::listener::WRITE_STALL_TIMEOUT).await;
    assert_eq!(head(&exchange(address, close).await), "HTTP/1.1 200 OK");
    drop(reader_that_never_reads);
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_after_3_seconds() {
    let (address, _stop) = serve_echo().await;
    let started = tokio::time::Instant::now();
    let answer = exchange(address, b"").await;
    assert_eq!(answer, "", "closed without an answer");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_kept_alive_connection_is_closed_after_10_idle_seconds() {
    let (address, _stop) = serve_echo().await;
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    get_and_keep_alive(&mut stream).await;
    let idle = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(idle.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_starts_its_head_in_time_has_10_seconds_to_finish_it() {
    let (address, _stop) = serve_echo().await;
    let started = tokio::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stream.write_all(b"GET / HTTP/1.1\r\n").await.expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    assert_eq!(String::from_utf8_lossy(&answer), "");
    assert_eq!(started.elapsed(), HEADER_READ_TIMEOUT);
}

/// Sends `raw` in pieces of `piece` bytes, ignoring a refusal to take more (the server
/// may answer and close first), and reads the answer's status line.
async fn status_for(address: SocketAddr, raw: &[u8], piece: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    for chunk in raw.chunks(piece) {
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or("(closed)").to_owned()
}

#[tokio::test]
async fn heads_are_served_up_to_32_kib_and_100_headers_and_431_beyond() {
    let (address, _stop) = serve_echo().await;
    // A head of exactly `total` bytes: request line, headers, the blank line.
    let head_of = |total: usize| {
        let bare = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: \r\n\r\n";
        let pad = "a".repeat(total - bare.len());
        let head = bare.replace("X-Pad: ", &format!("X-Pad: {pad}"));
        assert_eq!(head.len(), total);
        head
    };
    assert_eq!(MAX_HEAD_BYTES, 32_768);
    // However the head arrives: in one piece, or in pieces as a slow network brings it.
    for piece in [usize::MAX, 1000] {
        for (total, status) in [
            (MAX_HEAD_BYTES, "HTTP/1.1 200 OK"),
            (
                MAX_HEAD_BYTES + 1,
                "HTTP/1.1 431 Request Header Fields Too Large",
            ),
            // What used to get through when it came in one piece.
            (49_152, "HTTP/1.1 431 Request Header Fields Too Large"),
        ] {
            let got = status_for(address, head_of(total).as_bytes(), piece).await;
            assert_eq!(got, status, "a head of {total} bytes in pieces of {piece}");
        }
    }
    assert_eq!(MAX_HEADERS, 100);
    for (count, status) in [
        (MAX_HEADERS, "HTTP/1.1 200 OK"),
        (
            MAX_HEADERS + 1,
            "HTTP/1.1 431 Request Header Fields Too Large",
        ),
    ] {
        // Host and Connection count.
        let more: String = (2..count).map(|i| format!("X-H{i}: v\r\n")).collect();
        let head = format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{more}\r\n");
        let got = status_for(address, head.as_bytes(), usize::MAX).await;
        assert_eq!(got, status, "{count} headers");
    }
}

/// Connects from `source`, one of 127.0.0.0/8 (Linux routes all of it to lo), so that
/// one test can be many clients.
async fn connect_from(source: [u8; 4], address: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback source address");
    socket.connect(address).await.expect("connect")
}

/// What the server did with a connection that sent nothing, as seen without waiting: an
/// answer and the close (`Some(answer)`), a close alone (`Some("")`), or nothing yet.
fn seen(stream: &std::net::TcpStream) -> Option<String> {
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        match std::io::Read::read(&mut &*stream, &mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(answer.is_empty(), "an answer without a close");
                return None;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn to_std(stream: tokio::net::TcpStream) -> std::net::TcpStream {
    stream.into_std().expect("std socket")
}

/// A legitimate request from 127.0.0.1, answered within 1 s or never.
async fn legitimate_request(address: SocketAddr) -> String {
    tokio::time::timeout(
        Duration::from_secs(1),
        exchange(
            address,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
    )
    .await
    .expect("the legitimate request was answered within 1 s")
}

fn is_too_many_connections(answer: &str) -> bool {
    answer.starts_with("HTTP/1.1 503 ")
        && answer.contains("retry-after: 1")
        && answer.contains(r#"{"StatusCode":503,"ErrorCode":"TooManyConnections","#)
}

// The flood stays silent: the first-byte deadline is long here, so that only the
// connection limits decide what is closed, however slowly this test runs.
const FLOOD_LIMITS: Limits = Limits {
    connections: 128,
    per_peer: 32,
    first_byte: Duration::from_secs(600),
};

#[tokio::test]
async fn one_address_gets_its_share_of_connections_and_others_are_still_served() {
    let limits = Limits {
        connections: 1024,
        ..FLOOD_LIMITS
    };
    let (address, _stop) = serve_echo_with(limits).await;
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.push(connect_from([127, 0, 0, 2], address).await);
    }
    // All 300 are open (the kernel queued those not yet accepted) while this is asked.
    let answer = legitimate_request(address).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("0 bytes"),
        "{answer}"
    );
    // Accepted in order, before the legitimate one: the first 32 are held, the rest were
    // answered 503 and closed at once.
    let seen: Vec<Option<String>> = flood.into_iter().map(|s| seen(&to_std(s))).collect();
    assert!(seen[..32].iter().all(Option::is_none), "{:?}", &seen[..32]);
    for answer in &seen[32..] {
        let answer = answer.as_deref().unwrap_or("(still open)");
        assert!(is_too_many_connections(answer), "{answer}");
    }
}

#[tokio::test]
async fn with_every_slot_taken_by_silent_connections_the_oldest_make_room() {
    let (address, _stop) = serve_echo_with(FLOOD_LIMITS).await;
    // 10 addresses, 40 connections each: 400, over the per-address limit (32) and, from
    // the fifth address on, over all slots (128).
    let mut flood = Vec::new();
    for source in 2..12 {
        for _ in 0..40 {
            flood.push(connect_from([127, 0, 0, source], address).await);
        }
    }
    let answer = legitimate_request(address).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("0 bytes"),
        "{answer}"
    );
    let seen: Vec<Option<String>> = flood.into_iter().map(|s| seen(&to_std(s))).collect();
    let mut admitted = Vec::new();
    for (source, connections) in seen.chunks(40).enumerate() {
        // The last 8 of each address: over its limit.
        for answer in &connections[32..] {
            let answer = answer.as_deref().unwrap_or("(still open)");
            assert!(
                is_too_many_connections(answer),
                "address {source}: {answer}"
            );
        }
        admitted.extend(&connections[..32]);
    }
    // Each admission past 128 closed the oldest silent connection, without an answer:
    // the newest 127 are held (the legitimate request took the 128th slot).
    let (closed, held) = admitted.split_at(admitted.len() - 127);
    assert!(
        closed.iter().all(|c| c.as_deref() == Some("")),
        "{closed:?}"
    );
    assert!(held.iter().all(|c| c.is_none()), "{held:?}");
}

#[tokio::test]
async fn kept_alive_connections_between_requests_make_room_after_silent_ones() {
    let (address, _stop) = serve_echo_with(Limits {
        connections: 2,
        ..FLOOD_LIMITS
    })
    .await;
    // A request answered on a connection kept alive, which then waits for the next.
    let kept_alive = |source| async move {
        let mut stream = connect_from(source, address).await;
        get_and_keep_alive(&mut stream).await;
        to_std(stream)
    };
    let older = kept_alive([127, 0, 0, 2]).await;
    let silent = to_std(connect_from([127, 0, 0, 3], address).await);
    // Both slots are taken: the silent connection makes room, though it is newer.
    let answer = legitimate_request(address).await;
    assert!(answer.ends_with("0 bytes"), "{answer}");
    assert_eq!(seen(&silent).as_deref(), Some(""), "the silent one closed");
    assert_eq!(seen(&older), None, "the kept-alive one still open");
    // With none silent, the oldest between requests makes room; never one whose
    // request is being answered (see the next test).
    let newer = kept_alive([127, 0, 0, 4]).await;
    let answer = legitimate_request(address).await;
    assert!(answer.ends_with("0 bytes"), "{answer}");
    assert_eq!(seen(&older).as_deref(), Some(""), "the older one closed");
    assert_eq!(seen(&newer), None, "the newer one still open");
}

#[tokio::test]
async fn with_every_slot_answering_a_request_a_new_connection_gets_503_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (started, mut has_started) = tokio::sync::mpsc::channel::<()>(2);
    let release = Arc::new(tokio::sync::Notify::new());
    let released = Arc::clone(&release);
    tokio::spawn(serve_http_with(
        listener,
        Limits {
            connections: 2,
            ..FLOOD_LIMITS
        },
        move |_request: Request| {
            let (started, released) = (started.clone(), Arc::clone(&released));
            async move {
                let _ = started.send(()).await;
                released.notified().await;
                Response::new(Body::Text("finished".to_owned()))
            }
        },
        std::future::pending(),
    ));
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let in_flight: Vec<_> = (0..2)
        .map(|_| tokio::spawn(exchange(address, request)))
        .collect();
    for _ in 0..2 {
        has_started
            .recv()
            .await
            .expect("a request reached the handler");
    }
    let refused = tokio::time::timeout(Duration::from_secs(10), exchange(address, request))
        .await
        .expect("answered at once");
    assert!(is_too_many_connections(&refused), "{refused}");
    assert!(refused.contains("busy"), "{refused}");
    release.notify_waiters();
    for request in in_flight {
        let answer = request.await.expect("join");
        assert!(answer.ends_with("finished"), "{answer}");
    }
}
