//! Downloads through the CDN (`"via":"cdn"`, a profile's `cdn = true`) through the real binary,
//! for Alibaba Cloud CDN's types A, B and C. Every URL presign-url signs is checked by
//! `scripts/oracles/verify_cdn_urls.py`, a CDN node's check written from Alibaba Cloud's
//! documentation alone (not from stsvend's code): served now and at the answer's `Expiration`,
//! refused a moment after, refused tampered (another hash, another path, another user's
//! prefix), and always fetching the very key asked for from the origin, however hostile the key
//! (`%2F`, `?`, `#`, spaces, CJK, emoji). Rotation: a URL signed with the key that became the
//! backup is still served.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, parse_iso8601, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::oracles::python;
use stsvend_test_support::profiles;
use stsvend_test_support::sts::base_env;
use stsvend_test_support::workspace_path;

const PRIMARY: &str = "stsvendCdnPrimary01";
const BACKUP: &str = "stsvendCdnBackup002";
const TTL: u64 = 1800;

/// Keys a user may type, under the anonymous caller's prefix `uploads/anonymous/`.
const KEYS: &[&str] = &[
    "uploads/anonymous/photo.jpg",
    "uploads/anonymous/dir/sub/report final.pdf",
    "uploads/anonymous/照片 2024.png",
    "uploads/anonymous/emoji 😀.gif",
    "uploads/anonymous/a%2Fb.txt",
    "uploads/anonymous/what?x=1&y=2.txt",
    "uploads/anonymous/hash#frag.txt",
    "uploads/anonymous/plus+semi;colon:at@.txt",
    "uploads/anonymous/~tilde*(x)!'.txt",
    "uploads/anonymous/back\\slash.txt",
    "uploads/anonymous/NFD e\u{301}.txt",
];

fn now() -> u64 {
    unix_seconds(SystemClock.now())
}

/// presign-url on OSS with CDN type `auth` signed with `key`, and `extra` variables.
fn start(auth: &str, key: &str, extra: &[(&'static str, String)]) -> Function {
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("CDN_DOMAIN", "https://cdn.example.com".to_owned()),
        ("CDN_AUTH_TYPE", auth.to_owned()),
        ("CDN_AUTH_KEY", key.to_owned()),
        ("CDN_AUTH_TTL_SECONDS", TTL.to_string()),
    ]);
    envs.extend(extra.iter().cloned());
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

fn ask(function: &Function, body: &Value) -> (u16, Value) {
    let (status, _, text) = function.request("POST", "/", &body.to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// A record for the verifier.
fn record(case: String, auth: &str, url: &str, at: u64, key: &str, expect: &str) -> Value {
    json!({
        "case": case, "type": auth, "url": url, "keys": [PRIMARY, BACKUP], "ttl": TTL,
        "now": at, "object_key": key, "expect": expect,
    })
}

/// `url` with the first hex digit of its 32-digit MD5 changed.
fn other_hash(url: &str) -> String {
    let at = url
        .char_indices()
        .find(|(i, _)| {
            url.get(*i..*i + 32).is_some_and(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            })
        })
        .map(|(i, _)| i)
        .expect("an md5hash");
    let flipped = if url.as_bytes()[at] == b'0' { "1" } else { "0" };
    format!("{}{flipped}{}", &url[..at], &url[at + 1..])
}

/// Records for one signed answer: served now and at its `Expiration`, refused after it, with
/// another hash, and with the path moved to another user's prefix.
fn records_for(auth: &str, key: &str, answer: &Value) -> Vec<Value> {
    let url = answer["URL"].as_str().expect("URL");
    let expiration = parse_iso8601(answer["Expiration"].as_str().expect("Expiration"))
        .expect("an ISO 8601 Expiration")
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let case = |what: &str| format!("type {auth} {key:?}: {what}");
    vec![
        record(case("now"), auth, url, now(), key, "served"),
        record(case("at Expiration"), auth, url, expiration, key, "served"),
        record(
            case("after Expiration"),
            auth,
            url,
            expiration + 2,
            key,
            "refused",
        ),
        record(
            case("another hash"),
            auth,
            &other_hash(url),
            now(),
            key,
            "refused",
        ),
        record(
            case("moved to bob's prefix"),
            auth,
            &url.replace("/uploads/anonymous/", "/uploads/bob/"),
            now(),
            key,
            "refused",
        ),
    ]
}

/// Runs the verifier over `records`; every verdict must be the expected one.
fn verify(records: &[Value]) {
    let script = workspace_path("scripts/oracles/verify_cdn_urls.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the verifier");
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all((lines.join("\n") + "\n").as_bytes())
        .expect("write records");
    let output = child.wait_with_output().expect("the verifier's verdicts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let verdicts = String::from_utf8_lossy(&output.stdout).lines().count();
    assert_eq!(verdicts, records.len(), "{stderr}");
}

#[test]
#[ignore = "needs the Python of scripts/oracles (.venv): scripts/test runs it"]
fn cdn_urls_of_every_type_are_served_by_a_node_built_from_the_documentation() {
    let mut records = Vec::new();
    for auth in ["A", "B", "C"] {
        let function = start(auth, PRIMARY, &[("CDN_AUTH_KEY_BACKUP", BACKUP.to_owned())]);
        for key in KEYS {
            for expires in [None, Some(120), Some(3600)] {
                let mut body = json!({"key": key, "via": "cdn"});
                if let Some(expires) = expires {
                    body["expires"] = json!(expires);
                }
                let (status, answer) = ask(&function, &body);
                assert_eq!(status, 200, "{key}: {answer}");
                assert_eq!(answer["Method"], "GET");
                assert_eq!(answer["Headers"], json!({}));
                let url = answer["URL"].as_str().expect("URL");
                assert!(url.starts_with("https://cdn.example.com/"), "{url}");
                let expires_in = answer["ExpiresIn"].as_u64().expect("ExpiresIn");
                let asked = expires.unwrap_or(900);
                assert!(
                    expires_in <= asked && expires_in + 60 > asked,
                    "{auth} {key}: asked {asked}, got {expires_in}"
                );
                records.extend(records_for(auth, key, &answer));
            }
        }
        function.stop();
    }
    // Rotation: the old primary, now the CDN's backup key, still signs URLs the node serves.
    let function = start("A", BACKUP, &[]);
    let key = KEYS[1];
    let (status, answer) = ask(&function, &json!({"key": key, "via": "cdn"}));
    assert_eq!(status, 200, "{answer}");
    records.extend(records_for("A", key, &answer));
    function.stop();
    verify(&records);
}

#[test]
fn cdn_downloads_are_refused_where_a_bucket_get_would_be_and_where_a_cdn_cannot_carry_a_field() {
    let function = start(
        "A",
        PRIMARY,
        &[("PRESIGN_MAX_EXPIRES_SECONDS", "600".to_owned())],
    );
    let cases: &[(Value, u16, &str)] = &[
        (
            json!({"key": "uploads/bob/x.txt", "via": "cdn"}),
            403,
            "KeyOutsidePrefix",
        ),
        (
            json!({"key": "uploads/anonymousx/x.txt", "via": "cdn"}),
            403,
            "KeyOutsidePrefix",
        ),
        (
            json!({"key": "uploads/anonymous/../bob/x", "via": "cdn"}),
            400,
            "InvalidKey",
        ),
        (
            json!({"key": "uploads/anonymous/./x", "via": "cdn"}),
            400,
            "InvalidKey",
        ),
        (
            json!({"key": "/uploads/anonymous/x", "via": "cdn"}),
            400,
            "InvalidKey",
        ),
        (
            json!({"key": "uploads/anonymous/a\u{0}b", "via": "cdn"}),
            400,
            "InvalidKey",
        ),
        (json!({"via": "cdn"}), 400, "MissingKey"),
        (
            json!({"key": "uploads/anonymous/x", "via": "CDN"}),
            400,
            "InvalidVia",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "bucket"}),
            400,
            "InvalidVia",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": ""}),
            400,
            "InvalidVia",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": true}),
            400,
            "InvalidField",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "method": "PUT"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "method": "HEAD"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "method": "POST"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"list": true, "via": "cdn"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "responseContentDisposition": "attachment"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "responseContentType": "text/plain"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "process": "image/resize,w_100"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "expires": 0}),
            400,
            "InvalidExpires",
        ),
        (
            json!({"key": "uploads/anonymous/x", "via": "cdn", "expires": -1}),
            400,
            "InvalidExpires",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = ask(&function, body);
        assert_eq!(
            (got, answer["ErrorCode"].as_str().unwrap_or("")),
            (*status, *code),
            "{body}: {answer}"
        );
        if *code == "FieldNotApplicable"
            && body.get("method").is_none()
            && body.get("list").is_none()
        {
            let message = answer["ErrorMessage"].as_str().unwrap_or("");
            assert!(message.contains("bucket URLs only"), "{message}");
        }
    }
    // `expires` over the cap is capped and says so, as a bucket GET's is.
    let (status, answer) = ask(
        &function,
        &json!({"key": "uploads/anonymous/x", "via": "cdn", "expires": 7200}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            answer["ExpiresIn"].as_u64(),
            answer["ExpiresCappedBy"].as_str()
        ),
        (Some(600), Some("PRESIGN_MAX_EXPIRES_SECONDS"))
    );
    // The same through a query string, as a browser's GET sends it.
    let (status, _, text) =
        function.request("GET", "/?key=uploads%2Fanonymous%2Fa+b.txt&via=cdn", "");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("https://cdn.example.com/uploads/anonymous/a%20b.txt?auth_key="),
        "{text}"
    );
    let (status, _, text) =
        function.request("GET", "/?key=uploads%2Fanonymous%2Fx&via=cdn&via=cdn", "");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("DuplicateField"), "{text}");
    let (_, log) = function.stop();
    let log = log.join("\n");
    assert!(!log.contains(PRIMARY), "the CDN key in a log line");
    assert!(!log.contains("auth_key="), "a signed URL in a log line");

    // A deployment without a CDN refuses `via`.
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.push(("AUTH_MODE", "none".to_owned()));
    let bare = Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs);
    let (status, answer) = ask(&bare, &json!({"key": "uploads/anonymous/x", "via": "cdn"}));
    assert_eq!(
        (status, answer["ErrorCode"].as_str()),
        (400, Some("CdnNotConfigured"))
    );
    bare.stop();
}

/// A profile with `cdn = true` answers every GET through the CDN, under its own prefix and
/// methods; a profile without it keeps bucket GETs; `cdn = true` without `CDN_DOMAIN` stops
/// cold start.
#[test]
#[ignore = "needs the Python of scripts/oracles (.venv): scripts/test runs it"]
fn a_cdn_profile_answers_every_get_through_the_cdn() {
    let text = r#"
default_profile = "files"

[profiles.gallery]
prefix = "gallery/${sub}/"
methods = ["GET", "PUT"]
cdn = true

[profiles.files]
prefix = "files/${sub}/"

[profiles.uploads-only]
prefix = "inbox/${sub}/"
methods = ["PUT"]
cdn = true
"#;
    let file = profiles::write(env!("CARGO_TARGET_TMPDIR"), "cdn-profiles", text);
    let function = start("C", PRIMARY, &[("PROFILES_FILE", file.clone())]);
    let (status, answer) = ask(
        &function,
        &json!({"profile": "gallery", "key": "gallery/anonymous/cat.jpg"}),
    );
    assert_eq!(status, 200, "{answer}");
    let url = answer["URL"].as_str().expect("URL");
    assert!(
        url.starts_with("https://cdn.example.com/") && url.ends_with("/gallery/anonymous/cat.jpg"),
        "{url}"
    );
    let mut records = records_for("C", "gallery/anonymous/cat.jpg", &answer);
    records.retain(|r| !r["case"].as_str().unwrap_or("").contains("bob"));
    verify(&records);
    let (status, answer) = ask(
        &function,
        &json!({"profile": "gallery", "key": "gallery/anonymous/cat.jpg", "responseContentType": "image/png"}),
    );
    assert_eq!(
        (status, answer["ErrorCode"].as_str()),
        (400, Some("FieldNotApplicable"))
    );
    let (status, answer) = ask(
        &function,
        &json!({"profile": "gallery", "key": "files/anonymous/cat.jpg"}),
    );
    assert_eq!(
        (status, answer["ErrorCode"].as_str()),
        (403, Some("KeyOutsidePrefix"))
    );
    let (status, answer) = ask(
        &function,
        &json!({"profile": "uploads-only", "key": "inbox/anonymous/x"}),
    );
    assert_eq!(
        (status, answer["ErrorCode"].as_str()),
        (403, Some("MethodNotPermitted"))
    );
    // An upload of the CDN profile goes to the bucket as ever.
    let (status, answer) = ask(
        &function,
        &json!({"profile": "gallery", "key": "gallery/anonymous/cat.jpg", "method": "PUT"}),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["URL"]
            .as_str()
            .unwrap_or("")
            .contains("examplebucket"),
        "{answer}"
    );
    // A profile without `cdn` keeps bucket GETs, and takes `via`.
    let (_, answer) = ask(&function, &json!({"key": "files/anonymous/a.txt"}));
    assert!(
        answer["URL"]
            .as_str()
            .unwrap_or("")
            .contains("examplebucket"),
        "{answer}"
    );
    let (_, answer) = ask(
        &function,
        &json!({"key": "files/anonymous/a.txt", "via": "cdn"}),
    );
    assert!(
        answer["URL"]
            .as_str()
            .unwrap_or("")
            .starts_with("https://cdn.example.com/"),
        "{answer}"
    );
    function.stop();

    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([("AUTH_MODE", "none".to_owned()), ("PROFILES_FILE", file)]);
    let (code, refusal) = profiles::refused_start(env!("CARGO_BIN_EXE_presign-url"), &envs);
    assert_ne!(code, Some(0), "{refusal}");
    assert!(
        refusal.contains("CDN_DOMAIN") && refusal.contains("gallery"),
        "{refusal}"
    );
}
