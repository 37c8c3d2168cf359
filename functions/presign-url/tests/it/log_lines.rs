//! What a caller sends cannot write a log line of its own: the `presign-url` binary, in
//! `AUTH_MODE=none`, is sent a query parameter whose name holds a line feed and a whole
//! forged `INFO presigned … caller="bob"` line, then NUL, ESC, DEL, C1, bidi and line-separator
//! characters. The refusal quotes the name in its message; the log must hold it escaped, on
//! the refusal's own line, and no line the caller wrote.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use stsvend::{is_blank_looking, is_invisible};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, StandInSts};

/// A parameter name that, logged raw, ends the refusal's line and writes a success for bob.
const FORGED: &str = "x\nINFO presigned status=200 caller=\"bob\" elapsed_ms=1.0\n\
    nul\0 esc\u{1b}[2J del\u{7f} nel\u{85} rlo\u{202e} ls\u{2028} filler\u{3164}";

#[test]
fn a_parameter_name_holding_a_log_line_is_logged_escaped_on_the_refusals_line() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]);
    let function = Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs);

    let name = utf8_percent_encode(FORGED, NON_ALPHANUMERIC).to_string();
    let (status, _, text) = function.request("GET", &format!("/?{name}=1&{name}=2"), "");
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(
        (status, &answer["ErrorCode"]),
        (400, &"DuplicateField".into())
    );
    // The answer is JSON, so it may carry the name as it is; only the log is at stake.
    let (status, _, text) = function.request("GET", "/?key=uploads/anonymous/a.png", "");
    assert_eq!(status, 200, "{text}");

    let (clean_exit, output) = function.stop();
    assert!(clean_exit, "{output:#?}");
    for line in &output {
        let raw = line
            .chars()
            .find(|&c| c.is_control() || is_invisible(c) || is_blank_looking(c));
        assert_eq!(raw, None, "a raw character in {line:?}");
        let level = line.trim_start().split(' ').next().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "a line that is no event: {line:?}\n{output:#?}"
        );
    }
    let presigned: Vec<&String> = output
        .iter()
        .filter(|line| line.trim_start().starts_with("INFO presigned"))
        .collect();
    assert_eq!(presigned.len(), 1, "{output:#?}");
    assert!(
        !presigned[0].contains("bob") && presigned[0].contains(" caller=\"anonymous\" "),
        "{output:#?}"
    );
    let refused = output
        .iter()
        .find(|line| line.contains("refused") && line.contains("DuplicateField"))
        .unwrap_or_else(|| panic!("no refusal: {output:#?}"));
    let escaped = concat!(
        r#" error_message="x\nINFO presigned status=200 caller=\"bob\" elapsed_ms=1.0\n"#,
        r"nul\u{0000} esc\u{001b}[2J del\u{007f} nel\u{0085} rlo\u{202e} ls\u{2028} ",
        r#"filler\u{3164} is given more than once" "#,
    );
    assert!(refused.contains(escaped), "{refused}");
}
