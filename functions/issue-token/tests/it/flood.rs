//! The `issue-token` binary in HTTP mode with a low open-file limit, under a bounded flood of
//! silent connections from other loopback addresses: with `ulimit -n 256`, a legitimate
//! request is still answered within 1 s and the server does not run out of descriptors; with
//! `ulimit -n 20`, too low for even the fewest connections it serves, it does, and logs each
//! burst of failed `accept`s once, not each failure.
//!
//! Linux only: it binds the flood to 127.0.0.2 and up, which Linux routes to lo.

#![cfg(target_os = "linux")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, StandInSts};

/// The soft and hard `RLIMIT_NOFILE` the binary runs with: 192 connections (256 less 64 of
/// headroom), 64 from one address.
const OPEN_FILES: u64 = 256;

/// Flooding addresses, and connections from each: 300 in all, over the per-address limit
/// (64) and over all slots (192), but well under the test's own open-file limit.
const FLOOD_SOURCES: u8 = 4;
const FLOOD_PER_SOURCE: usize = 75;

/// Writes a script that starts `binary` with the open-file limit lowered (as `prlimit` or a
/// container's `--ulimit` would), and returns its path.
fn with_open_files(binary: &str, limit: u64) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = format!(
        "{}/issue-token-nofile-{limit}.sh",
        env!("CARGO_TARGET_TMPDIR")
    );
    std::fs::write(
        &path,
        format!("#!/bin/sh\nulimit -n {limit} || exit 97\nexec '{binary}'\n"),
    )
    .expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Opens `count` connections to `address` from `source`, sending nothing.
fn flood(
    runtime: &tokio::runtime::Runtime,
    source: [u8; 4],
    address: SocketAddr,
    count: usize,
) -> Vec<TcpStream> {
    runtime.block_on(async {
        let mut flood = Vec::with_capacity(count);
        for _ in 0..count {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(SocketAddr::from((source, 0)))
                .expect("bind a loopback source address");
            // Loopback connects at once while the server keeps taking connections from the
            // kernel's queue (128 long); a server that stops lets it fill, and then they wait.
            let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(address))
                .await
                .expect("the server kept accepting: connected within 5 s")
                .expect("connect");
            let stream = stream.into_std().expect("std socket");
            stream.set_nonblocking(false).expect("blocking");
            flood.push(stream);
        }
        flood
    })
}

/// What the server did with a flood connection, seen without waiting: answered and closed
/// (`Some(answer)`), closed (`Some("")`), or nothing yet (`None`).
fn seen(mut stream: TcpStream) -> Option<String> {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut answer = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock && answer.is_empty() => return None,
            Err(e) => panic!("{e}; so far: {}", String::from_utf8_lossy(&answer)),
        }
    }
}

/// One `GET /token` from 127.0.0.1, connected, sent and its whole answer read within
/// `budget`, or `None`.
fn request_within(address: SocketAddr, budget: Duration) -> Option<String> {
    let deadline = Instant::now() + budget;
    // A server that stops accepting lets the kernel's queue fill, and then even the
    // connection is not made.
    let mut stream = TcpStream::connect_timeout(&address, budget).ok()?;
    stream.set_write_timeout(Some(budget)).expect("timeout");
    stream
        .write_all(b"GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("timeout");
        match stream.read(&mut chunk) {
            Ok(0) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn a_flood_of_silent_connections_does_not_starve_a_legitimate_request() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.push(("AUTH_MODE", "none".to_owned()));
    let binary = with_open_files(env!("CARGO_BIN_EXE_issue-token"), OPEN_FILES);
    let function = Function::start(&binary, &envs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut connections = Vec::new();
    for source in 0..FLOOD_SOURCES {
        connections.push(flood(
            &runtime,
            [127, 0, 0, 2 + source],
            function.address,
            FLOOD_PER_SOURCE,
        ));
    }
    // The whole flood is open (what the server has not accepted yet waits in the kernel's
    // queue, ahead of this request) while the legitimate request is made.
    sts.next(Canned::Reply(200, sts::success_body("anonymous")));
    let answer = request_within(function.address, Duration::from_secs(1))
        .expect("the legitimate request was answered within 1 s");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.ends_with(&sts::expected_answer()), "{answer}");

    // Each flood connection was left open, closed to make room, or refused: past the 64th
    // from its address, at once, with a 503 in the shape of every error.
    for (source, connections) in connections.into_iter().enumerate() {
        let seen: Vec<Option<String>> = connections.into_iter().map(seen).collect();
        let refused = seen
            .iter()
            .flatten()
            .filter(|answer| !answer.is_empty())
            .inspect(|answer| {
                assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
                assert!(
                    answer.contains(
                        r#"{"StatusCode":503,"ErrorCode":"TooManyConnections","ErrorMessage":"#
                    ),
                    "{answer}"
                );
            })
            .count();
        assert!(refused > 0, "address {source}: none refused: {seen:?}");
    }

    let (clean_exit, output) = function.stop();
    assert!(clean_exit, "{output:#?}");
    let log = output.join("\n");
    assert!(
        log.contains("serving at most 192 connections at once, 64 from one address"),
        "the limits follow the open-file limit: {log}"
    );
    assert!(
        log.contains("connection limits reached"),
        "refusals are logged: {log}"
    );
    assert!(
        !log.contains("accept failed"),
        "the server ran out of descriptors: {log}"
    );
}

#[test]
fn running_out_of_descriptors_is_logged_once_a_burst() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.push(("AUTH_MODE", "none".to_owned()));
    // The binary itself holds about 13 descriptors; 16 connections are allowed, so the eighth
    // or so makes `accept` fail with EMFILE until silent connections are closed (3 s).
    let binary = with_open_files(env!("CARGO_BIN_EXE_issue-token"), 20);
    let function = Function::start(&binary, &envs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let flood = flood(&runtime, [127, 0, 0, 2], function.address, 12);
    // Every one is closed by the server, which accepted each: so the accepts failed, then
    // worked again, before this ends.
    for mut stream in flood {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        stream
            .read_to_end(&mut Vec::new())
            .expect("closed by the server");
    }
    let (clean_exit, output) = function.stop();
    assert!(clean_exit, "{output:#?}");
    let log = output.join("\n");
    let warnings = output
        .iter()
        .filter(|l| l.contains("accept failed"))
        .count();
    let ends: Vec<u64> = output
        .iter()
        .filter_map(|l| l.split("accepting connections again after ").nth(1))
        .map(|rest| {
            rest.split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a count")
        })
        .collect();
    assert!(warnings > 0, "accept never failed: {log}");
    assert_eq!(
        warnings,
        ends.len(),
        "one warning a burst, and its end: {log}"
    );
    assert!(
        ends.iter().sum::<u64>() > ends.len() as u64,
        "more failures than warnings: {log}"
    );
}
