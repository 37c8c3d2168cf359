//! trivial-server: the floor presign-url's hot path is measured against (`bench/hot_path.py`).
//!
//! `trivial-server PORT BODY_BYTES` listens on 127.0.0.1:PORT and answers every request, on
//! HTTP/1.1 kept-alive connections, one thread each, with `200 OK` and a fixed JSON body of
//! `BODY_BYTES` bytes under the headers presign-url sends (`content-type`, `cache-control`,
//! `content-length`, `date`). It reads each request's head and skips its body
//! (`Content-Length` only); it parses nothing else and logs nothing.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

/// The most a request's head may take, as presign-url's HTTP mode allows.
const MAX_HEAD_BYTES: usize = 32 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(port), Some(body_bytes)) = (
        args.first().and_then(|a| a.parse::<u16>().ok()),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: trivial-server PORT BODY_BYTES");
        return ExitCode::from(2);
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("trivial-server: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let answer: &'static [u8] = answer(body_bytes).leak();
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            // A connection that fails is simply closed; the client sees it.
            let _ = serve(stream, answer);
        });
    }
    ExitCode::SUCCESS
}

/// The whole answer, head and body: a JSON object of exactly `body_bytes` bytes (at least 10).
fn answer(body_bytes: usize) -> Vec<u8> {
    let filler = "x".repeat(body_bytes.saturating_sub(10));
    let body = format!("{{\"url\":\"{filler}\"}}");
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         content-length: {}\r\ndate: Mon, 07 Dec 2026 00:00:00 GMT\r\n\r\n",
        body.len()
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

/// Answers every request on `stream` until the client closes it or sends `Connection: close`.
fn serve(stream: TcpStream, answer: &[u8]) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::with_capacity(MAX_HEAD_BYTES, stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        let mut body_bytes = 0u64;
        let mut close = false;
        let mut head_bytes = 0;
        loop {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 {
                return Ok(());
            }
            head_bytes += read;
            if head_bytes > MAX_HEAD_BYTES {
                return Ok(());
            }
            let Some((name, value)) = line.split_once(':') else {
                if line == "\r\n" || line == "\n" {
                    break;
                }
                continue; // the request line
            };
            if name.eq_ignore_ascii_case("content-length") {
                body_bytes = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.trim().eq_ignore_ascii_case("close");
            }
        }
        io::copy(&mut (&mut reader).take(body_bytes), &mut io::sink())?;
        writer.write_all(answer)?;
        if close {
            return Ok(());
        }
    }
}
