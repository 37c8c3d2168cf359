//! Text that callers and uploaders chose, made safe to log and to hand on; and the log layer
//! that keeps every line one line.
//!
//! An object key, a claim or a header value may hold a line feed (S3 accepts one in a key), a
//! NUL, an escape sequence or a bidi override. Written raw into a log line, a key holding
//! `\n` writes a whole line of its own (`INFO upload recorded … uploader=bob`), and one holding
//! ` uploader=bob` adds a field to the real line. So such text is logged through [`escaped`]:
//! quoted, with every character that could end the line, hide itself or reorder what is shown
//! written as an escape. The log formatter escapes whatever else reaches it ([`layer`], which
//! [`init_logging`] installs), so nothing in any log format carries
//! a raw control character even where a call site forgot.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;

use lambda_http::tracing::subscriber::field::MakeExt as _;
use lambda_http::tracing::subscriber::fmt::format::{self, debug_fn};
use lambda_http::tracing::subscriber::fmt::{self as tracing_fmt, MakeWriter};
use lambda_http::tracing::subscriber::layer::Layer;
use lambda_http::tracing::subscriber::registry::LookupSpan;
use tracing::field::Field;
use tracing::{Metadata, Subscriber};

use stsvend::{is_blank_looking, is_invisible, is_variation_selector};

/// Whether `c` is written as an escape: control characters (C0, DEL, C1), Unicode format
/// characters and line or paragraph separators ([`is_invisible`]), characters that look blank
/// ([`is_blank_looking`]), variation selectors, and `\` itself, so that an escape in the
/// output always stands for one character of the input.
pub fn needs_escape(c: char) -> bool {
    // No ASCII character is invisible, blank-looking or a variation selector, and an ASCII
    // control character is one of `char::is_control`'s: ASCII is answered without the tables.
    if c.is_ascii() {
        return c == '\\' || c.is_ascii_control();
    }
    c.is_control() || is_invisible(c) || is_blank_looking(c) || is_variation_selector(c)
}

/// Writes `text` with [`needs_escape`] characters escaped: `\n`, `\r`, `\t`, `\\`, and
/// `\u{XXXX}` (hexadecimal code point) for the rest.
pub fn write_escaped(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    // Runs of characters kept as they are go out whole, not a character at a time.
    let mut start = 0;
    for (at, c) in text.char_indices().filter(|&(_, c)| needs_escape(c)) {
        out.write_str(&text[start..at])?;
        write_char_escaped(out, c)?;
        start = at + c.len_utf8();
    }
    out.write_str(&text[start..])
}

/// Whether `text` is printable ASCII (space to `~`): no such character is rewritten in logs
/// ([`rewritten_in_logs`]), so such text is passed on whole, unscanned by character.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' '..=b'~'))
}

/// Writes `c`, as an escape if it [`needs_escape`].
fn write_char_escaped(out: &mut (impl fmt::Write + ?Sized), c: char) -> fmt::Result {
    match c {
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if needs_escape(c) => write!(out, "\\u{{{:04x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// Whether the log formatter rewrites `c` in text that reached it unescaped: every
/// [`needs_escape`] character but `\`. A `\` is left as it is because the text is often
/// escaped already ([`escaped`], or tracing's `?value`, which writes a line feed as `\n`):
/// escaping it again would show `\\n` for a line feed. What matters to the log, that no raw
/// character ends, hides or reorders a line, holds either way.
fn rewritten_in_logs(c: char) -> bool {
    c != '\\' && needs_escape(c)
}

/// `text` with [`needs_escape`] characters escaped, unquoted: borrowed when there is nothing to
/// escape. What a record gives for a key it cannot vouch for.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    // Writing to a String cannot fail.
    let _ = write_escaped(&mut out, text);
    Cow::Owned(out)
}

/// Caller- or uploader-chosen text as a log field value: in double quotes, `"` and
/// [`needs_escape`] characters escaped, so the value can neither end the line nor pose as
/// another field. Log it as `key = %escaped(&key)`.
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// See [`escaped`].
#[derive(Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for piece in self.0.split_inclusive('"') {
            match piece.strip_suffix('"') {
                Some(before) => {
                    write_escaped(f, before)?;
                    f.write_str("\\\"")?;
                }
                None => write_escaped(f, piece)?,
            }
        }
        f.write_char('"')
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The layer that writes the log to `writer`: JSON lines when `json` (Lambda's
/// `AWS_LAMBDA_LOG_FORMAT=JSON`), else tracing's plain lines; either without time (Lambda and
/// Function Compute stamp each line), target or colours (neither platform's log is a terminal,
/// and an ESC must not reach it).
///
/// Every line it writes is one line with no raw control, invisible or blank-looking character,
/// whatever a call site passed (`%value`, `?value`, a `&str`, the message, a span's fields).
/// Plain fields are written here rather than by tracing's own formatter, which (with colours
/// off) escapes ESC and DEL as `\x1b`, `\x7f` and leaves the rest: one notation throughout.
/// Plain lines write each field and the message with those characters escaped as
/// [`write_escaped`] does (but for `\`, which such text often holds as an escape already:
/// [`escaped`] output, or tracing's `?value`). Every line, plain or JSON, then passes a writer
/// that rewrites whatever is left as an escape, but the line feed that ends it: in JSON,
/// `\uXXXX`, which serde_json leaves undone for DEL, C1, bidi controls and U+2028/U+2029 but
/// which stands for the same character, so the line parses to the same values.
pub fn layer<S, W>(json: bool, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let lines = tracing_fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .with_writer(OneLine {
            inner: writer,
            json,
        });
    if json {
        lines.json().boxed()
    } else {
        lines
            .fmt_fields(debug_fn(write_field).delimited(" "))
            .boxed()
    }
}

/// Writes one field of a plain line as tracing's own format does, `name=value` or the message
/// alone, but through [`LineSafe`], so that no value can end the line.
fn write_field(
    writer: &mut format::Writer<'_>,
    field: &Field,
    value: &dyn fmt::Debug,
) -> fmt::Result {
    let mut out = LineSafe(writer);
    match field.name() {
        "message" => {}
        name => write!(out, "{}=", name.strip_prefix("r#").unwrap_or(name))?,
    }
    write!(out, "{value:?}")
}

/// A [`fmt::Write`] that passes text on with the characters the log rewrites
/// ([`rewritten_in_logs`]) escaped.
struct LineSafe<W>(W);

impl<W: fmt::Write> fmt::Write for LineSafe<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if is_printable_ascii(text) {
            return self.0.write_str(text);
        }
        let mut start = 0;
        for (at, c) in text.char_indices().filter(|&(_, c)| rewritten_in_logs(c)) {
            self.0.write_str(&text[start..at])?;
            write_char_escaped(&mut self.0, c)?;
            start = at + c.len_utf8();
        }
        self.0.write_str(&text[start..])
    }
}

/// The [`MakeWriter`] every log line leaves through (see [`layer`]).
struct OneLine<M> {
    inner: M,
    json: bool,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = OneLineWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer(),
            json: self.json,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer_for(meta),
            json: self.json,
        }
    }
}

/// See [`OneLine`]. tracing-subscriber writes each event as one `write_all` of the whole
/// formatted line, its line feed last; so every write is taken as a line, and each character
/// in it the log rewrites, but that last line feed, is written as an escape. A byte that is
/// not UTF-8 (the formatter writes a `String`, so none should come) becomes U+FFFD.
struct OneLineWriter<W> {
    inner: W,
    json: bool,
}

impl<W: io::Write> io::Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, "\n"),
            None => (buf, ""),
        };
        let clean = |chunk: std::str::Utf8Chunk<'_>| {
            chunk.invalid().is_empty() && !chunk.valid().chars().any(rewritten_in_logs)
        };
        if body.utf8_chunks().all(clean) {
            return self.inner.write(buf);
        }
        let mut line = String::with_capacity(buf.len() + 16);
        for chunk in body.utf8_chunks() {
            for c in chunk.valid().chars() {
                match (rewritten_in_logs(c), self.json) {
                    (false, _) => line.push(c),
                    (true, true) => write_json_escape(&mut line, c),
                    (true, false) => {
                        let _ = write_char_escaped(&mut line, c);
                    }
                }
            }
            if !chunk.invalid().is_empty() {
                line.push(char::REPLACEMENT_CHARACTER);
            }
        }
        line.push_str(end);
        self.inner.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `c` as JSON's `\uXXXX` escape, a UTF-16 surrogate pair beyond the BMP (RFC 8259,
/// section 7). Such a character can only stand inside a string of a JSON line (serde_json puts
/// no whitespace between tokens), where the escape means the same character.
fn write_json_escape(out: &mut String, c: char) {
    for unit in c.encode_utf16(&mut [0; 2]) {
        // Writing to a String cannot fail.
        let _ = write!(out, "\\u{unit:04x}");
    }
}

/// Starts logging to stdout, in both hosts. Which events: `AWS_LAMBDA_LOG_LEVEL` (Lambda's
/// advanced logging controls: `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) when set,
/// for every target; otherwise the `RUST_LOG` directives; otherwise `info`. How: JSON lines
/// when `AWS_LAMBDA_LOG_FORMAT=JSON`, else tracing's plain lines, without time (Lambda and
/// Function Compute stamp each line) or target, as `lambda_http`'s default subscriber; either
/// way through [`layer`], which keeps every line one line with no raw control character,
/// whatever a call site logs.
///
/// Whatever those variables say, events below INFO from `lambda_runtime*` and `lambda_http`
/// targets are dropped, because they are where raw payloads go: `lambda_runtime` logs every
/// event it receives, headers and all (`Authorization: Bearer …` included), at TRACE ("raw
/// JSON event received from Lambda", `layers/api_response.rs`), and a streamed response's
/// headers at TRACE (`requests.rs`). Their INFO and more severe events name errors and request
/// ids only (a payload that fails to parse is logged as a fixed message, not its text), and
/// the invocation span (`requestId`, X-Ray trace id) is INFO, so it stays. The other crates
/// that log through `tracing` were checked too and need no rule: hyper is built without its
/// (unstable) `tracing` feature, so it emits nothing; hyper-util logs pool keys (scheme and
/// host), peer addresses and connection errors, never headers or bodies; reqwest and rustls
/// log through the `log` crate, which nothing forwards to this subscriber (tracing-subscriber's
/// `tracing-log` feature is off), and reqwest's wire dump (`connection_verbose`) is off.
/// Dropping by target and level, rather than matching messages, keeps the rule true when those
/// crates reword or add events.
pub fn init_logging() {
    use lambda_http::tracing::subscriber::filter::{LevelFilter, filter_fn};
    use lambda_http::tracing::subscriber::layer::SubscriberExt as _;
    use lambda_http::tracing::subscriber::util::SubscriberInitExt as _;
    use lambda_http::tracing::subscriber::{EnvFilter, registry};
    use tracing::{Level, Metadata};

    /// Whether an event or span may carry a raw payload (see above), so is never logged.
    fn may_carry_payload(metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        (target.starts_with("lambda_runtime") || target.starts_with("lambda_http"))
            && *metadata.level() > Level::INFO
    }

    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let lambda_level = var("AWS_LAMBDA_LOG_LEVEL").and_then(|level| {
        match level.trim().to_ascii_uppercase().as_str() {
            "FATAL" => Some(LevelFilter::ERROR),
            other => other.parse::<LevelFilter>().ok(),
        }
    });
    let wanted = match lambda_level {
        Some(level) => EnvFilter::default().add_directive(level.into()),
        None => EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse_lossy(var("RUST_LOG").unwrap_or_default()),
    };
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.trim().eq_ignore_ascii_case("json"));
    // A second call (a test that starts a host twice) keeps the subscriber already set.
    let _ = registry()
        .with(wanted)
        .with(filter_fn(|metadata| !may_carry_payload(metadata)))
        .with(layer(json, std::io::stdout))
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use lambda_http::tracing::subscriber::layer::SubscriberExt as _;
    use lambda_http::tracing::subscriber::registry;
    use serde_json::Value;
    use tracing::{info, info_span, warn};

    use super::*;

    #[test]
    fn the_ascii_answer_of_needs_escape_is_the_tables_answer_for_every_character() {
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            let by_tables = c == '\\'
                || c.is_control()
                || is_invisible(c)
                || is_blank_looking(c)
                || is_variation_selector(c);
            assert_eq!(needs_escape(c), by_tables, "{:04x}", u32::from(c));
        }
    }

    #[test]
    fn runs_and_the_printable_ascii_path_write_what_char_by_char_writes() {
        let texts = [
            "",
            "plain text",
            "a\\b",
            "line\nbreak",
            "tab\there",
            "\u{202E}rtl",
            "中文 ok",
            "x\u{200D}y\u{FE0F}",
            "\u{7f}\u{1b}[31m",
            "end\\",
            "~ !\"#$%&'()*+,-./:;<=>?@[]^_`{|}",
        ];
        for text in texts {
            let mut by_char = String::new();
            for c in text.chars() {
                write_char_escaped(&mut by_char, c).expect("string");
            }
            let mut by_runs = String::new();
            write_escaped(&mut by_runs, text).expect("string");
            assert_eq!(by_runs, by_char, "{text:?}");
            let mut line_safe = String::new();
            fmt::Write::write_str(&mut LineSafe(&mut line_safe), text).expect("string");
            let mut expected = String::new();
            for c in text.chars() {
                if rewritten_in_logs(c) {
                    write_char_escaped(&mut expected, c).expect("string");
                } else {
                    expected.push(c);
                }
            }
            assert_eq!(line_safe, expected, "{text:?}");
        }
    }

    #[test]
    fn line_ends_nul_and_invisible_characters_are_written_as_escapes() {
        let cases = [
            ("uploads/alice/a.jpg", "uploads/alice/a.jpg"),
            (
                "a\nINFO upload recorded uploader=bob",
                "a\\nINFO upload recorded uploader=bob",
            ),
            ("a\r\n\tb\0c", "a\\r\\n\\tb\\u{0000}c"),
            ("esc\u{1b}[31m", "esc\\u{001b}[31m"),
            ("del\u{7f} c1\u{85}", "del\\u{007f} c1\\u{0085}"),
            ("invoice\u{202E}gpj.exe", "invoice\\u{202e}gpj.exe"),
            ("zero\u{200B}width", "zero\\u{200b}width"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            ("back\\slash\\n", "back\\\\slash\\\\n"),
            ("hangul\u{3164}filler", "hangul\\u{3164}filler"),
            ("vs\u{FE0F}", "vs\\u{fe0f}"),
            ("中文 😀.png", "中文 😀.png"),
        ];
        for (raw, want) in cases {
            assert_eq!(escape(raw), want, "{raw:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_logged_value_is_quoted_so_it_cannot_pose_as_another_field() {
        assert_eq!(
            escaped(r#"a.jpg" uploader="bob"#).to_string(),
            r#""a.jpg\" uploader=\"bob""#
        );
        assert_eq!(escaped("x\ny").to_string(), r#""x\ny""#);
        assert_eq!(escaped("").to_string(), r#""""#);
    }

    /// A log kept in memory, as a [`MakeWriter`].
    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Memory {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl MakeWriter<'_> for Memory {
        type Writer = Self;

        fn make_writer(&self) -> Self {
            self.clone()
        }
    }

    /// What `log` writes through the layer production installs, plain or JSON.
    fn logged(json: bool, log: impl FnOnce()) -> String {
        let memory = Memory::default();
        let subscriber = registry().with(layer(json, memory.clone()));
        tracing::subscriber::with_default(subscriber, log);
        let bytes = memory.0.lock().expect("lock").clone();
        String::from_utf8(bytes).expect("UTF-8")
    }

    /// A key that, logged raw, writes a line of its own claiming bob's upload; and then every
    /// kind of character that must not reach a log raw.
    const KEY: &str = "a.jpg\nINFO upload recorded key=x uploader={\"sub\": \"bob\"}\
        \r nul\0 esc\u{1b}[2J del\u{7f} nel\u{85} csi\u{9b} rlo\u{202e} zw\u{200b} \
        ls\u{2028} ps\u{2029} bom\u{feff} filler\u{3164} tag\u{e0041} vs\u{fe0f} \\n";

    /// `KEY` as `escaped` must write it, by hand: quoted, `"` and `\` escaped, each
    /// character the log may not carry raw as `\n`, `\r` or `\u{XXXX}`.
    const KEY_ESCAPED: &str = r#""a.jpg\nINFO upload recorded key=x uploader={\"sub\": \"bob\"}\r nul\u{0000} esc\u{001b}[2J del\u{007f} nel\u{0085} csi\u{009b} rlo\u{202e} zw\u{200b} ls\u{2028} ps\u{2029} bom\u{feff} filler\u{3164} tag\u{e0041} vs\u{fe0f} \\n""#;

    /// A call site that logs.
    type Logs<'a> = Box<dyn FnOnce() + 'a>;

    /// Every way a call site can hand the key to the log, by name: as `%key`, `?key`, a
    /// `&str`, the message, an error, inside a span, and through [`escaped`].
    fn every_way(key: &str) -> Vec<(&'static str, Logs<'_>)> {
        vec![
            ("display", Box::new(move || info!(key = %key, "presigned"))),
            ("debug", Box::new(move || info!(key = ?key, "presigned"))),
            ("str", Box::new(move || info!(key, "presigned"))),
            ("message", Box::new(move || warn!("refused {key}"))),
            (
                "error",
                Box::new(move || {
                    let error = io::Error::other(key.to_owned());
                    warn!(error = &error as &dyn std::error::Error, "refused");
                }),
            ),
            (
                "span",
                Box::new(move || info_span!("request", key).in_scope(|| info!("presigned"))),
            ),
            (
                "escaped",
                Box::new(move || info!(key = %escaped(key), "presigned")),
            ),
        ]
    }

    /// Asserts `output` is one line with no character that must not reach a log raw.
    fn assert_one_clean_line(output: &str, how: &str) {
        let line = output
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{how}: {output:?}"));
        let raw = line
            .chars()
            .find(|&c| c.is_control() || is_invisible(c) || is_blank_looking(c));
        assert_eq!(raw, None, "{how}: {line}");
        assert!(
            !line.contains('\u{FE0F}') && !line.contains('\u{E0041}'),
            "{how}: {line}"
        );
    }

    #[test]
    fn a_plain_line_stays_one_line_whatever_a_call_site_logs() {
        for (how, log) in every_way(KEY) {
            let output = logged(false, log);
            assert_one_clean_line(&output, how);
            let output = output.trim_start();
            assert!(
                output.starts_with("INFO ") || output.starts_with("WARN "),
                "{how}: {output}"
            );
            assert!(
                output.contains(r#"a.jpg\nINFO upload recorded key=x uploader="#),
                "{how}: {output}"
            );
            // tracing writes a `?value` or `&str` with Rust's escapes; the rest are the log's.
            let controls = match how {
                "debug" | "str" | "span" => r"nul\0 esc\u{1b}[2J del\u{7f} nel\u{85}",
                _ => r"nul\u{0000} esc\u{001b}[2J del\u{007f} nel\u{0085}",
            };
            assert!(output.contains(controls), "{how}: {output}");
            assert!(
                output.contains(r"rlo\u{202e}") && output.contains(r"ls\u{2028}"),
                "{how}: {output}"
            );
        }
        let shown = logged(false, || info!(key = %escaped(KEY), "presigned"));
        assert!(
            shown.trim_start().starts_with(r#"INFO presigned key="a.jpg\nINFO upload recorded key=x uploader={\"sub\": \"bob\"}\r nul\u{0000}"#),
            "{shown}"
        );
        assert!(shown.ends_with("vs\\u{fe0f} \\\\n\"\n"), "{shown}");
    }

    #[test]
    fn a_json_line_stays_one_line_and_parses_to_what_was_logged() {
        for (how, log) in every_way(KEY) {
            let output = logged(true, log);
            assert_one_clean_line(&output, how);
            let line: Value =
                serde_json::from_str(&output).unwrap_or_else(|e| panic!("{how}: {e}: {output}"));
            let fields = &line["fields"];
            let (got, want) = match how {
                "display" | "str" => (&fields["key"], KEY.to_owned()),
                "debug" => (&fields["key"], format!("{KEY:?}")),
                "message" => (&fields["message"], format!("refused {KEY}")),
                "error" => (&fields["error"], KEY.to_owned()),
                "span" => (&line["span"]["key"], KEY.to_owned()),
                _ => (&fields["key"], KEY_ESCAPED.to_owned()),
            };
            assert_eq!(got.as_str(), Some(want.as_str()), "{how}: {output}");
        }
    }

    #[test]
    fn json_escapes_name_the_same_characters_beyond_the_bmp_too() {
        let output = logged(true, || info!(key = "tag\u{e0041}\u{7f}", "x"));
        assert!(
            output.contains(r#""key":"tag\udb40\udc41\u007f""#),
            "{output}"
        );
        let line: Value = serde_json::from_str(&output).expect("JSON");
        assert_eq!(line["fields"]["key"], "tag\u{e0041}\u{7f}");
    }
}
