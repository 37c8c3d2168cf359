//! Upload profiles (`PROFILES_FILE`) through the real binary on OSS, V4 and V1: each answer
//! names its profile, a server-chosen key has the template's shape, every refusal has its
//! code, `Content-Disposition` is signed into every upload (a header on PUT and initiate, an
//! `eq`-pinned field on forms), a form's `content-length-range` is the profile's; and a bad
//! file stops start-up naming the file, the profile and the field.
//!
//! Every answer signed is written to `$CARGO_TARGET_TMPDIR/profiles-presigned.jsonl`, which
//! `scripts/oracles/verify_presigned.py` checks with oss2 and alibabacloud-oss-v2.

use base64::Engine as _;
use regex::Regex;
use serde_json::{Value, json};
use stsvend_test_support::function::Function;
use stsvend_test_support::profiles::{self, PROFILES};
use stsvend_test_support::sts::{FUNCTION_KEY_ID, FUNCTION_SECRET, FUNCTION_TOKEN, base_env};

/// A key `avatars/anonymous/` + a UUID v4 (version nibble 4, variant 8 to b) + the
/// extension, as RFC 9562 writes it.
const AVATAR_KEY: &str =
    r"^avatars/anonymous/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

fn tmp() -> &'static str {
    env!("CARGO_TARGET_TMPDIR")
}

/// presign-url on OSS with `version`, the function's own key, and profiles file `file`.
fn start(version: &str, file: &str) -> Function {
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("SIGNATURE_VERSION", version.to_owned()),
        ("PROFILES_FILE", file.to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]);
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

fn ask(function: &Function, body: &Value) -> (u16, Value) {
    let (status, _, text) = function.request("POST", "/", &body.to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn refused(function: &Function, body: &Value) -> (u16, String) {
    let (status, answer) = ask(function, body);
    (
        status,
        answer["ErrorCode"].as_str().unwrap_or("").to_owned(),
    )
}

/// The decoded policy of a form answer.
fn policy_of(answer: &Value) -> Value {
    let text = answer["Fields"]["policy"].as_str().expect("policy");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 policy");
    serde_json::from_slice(&bytes).expect("policy JSON")
}

/// A record for `verify_presigned.py`.
fn record(version: &str, case: &str, key: &str, answer: &Value) -> Value {
    let kind = if answer.get("Fields").is_some() {
        "post"
    } else {
        "url"
    };
    let agree = if kind == "post" {
        json!(["oss-v2"])
    } else {
        json!(["oss2", "oss-v2"])
    };
    json!({
        "case": format!("profiles {version}: {case}"), "kind": kind, "signature_version": version,
        "access_key_id": FUNCTION_KEY_ID, "access_key_secret": FUNCTION_SECRET,
        "security_token": FUNCTION_TOKEN, "region": "cn-hangzhou", "bucket": "examplebucket",
        "key": key, "answer": answer, "agree": agree, "note": "",
    })
}

#[test]
fn profiles_sign_each_kind_of_upload_by_its_own_rules_on_oss() {
    let file = profiles::write(tmp(), "oss", PROFILES);
    let mut records = Vec::new();
    for version in ["v4", "v1"] {
        let function = start(version, &file);
        records.extend(avatar_forms(&function, version));
        records.extend(videos(&function, version));
        records.extend(attachments(&function, version));
        refusals(&function);
        function.stop();
    }
    assert!(records.len() >= 12, "{} records", records.len());
    let path = format!("{}/profiles-presigned.jsonl", tmp());
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write records");
}

/// The avatar profile: forms with a server-chosen key, the profile's size range and the
/// disposition pinned; its PUT is refused on OSS (the store cannot bound a PUT's size).
fn avatar_forms(function: &Function, version: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let shape = Regex::new(&format!("{AVATAR_KEY}\\.png$")).expect("regex");
    let mut keys = Vec::new();
    for filename in ["Me.PNG", "holiday photo.png", "a.b.c.png"] {
        let body = json!({"profile": "avatar", "method": "POST", "filename": filename, "contentType": "image/png"});
        let (status, answer) = ask(function, &body);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["Profile"], "avatar");
        let key = answer["Key"].as_str().expect("Key").to_owned();
        assert!(shape.is_match(&key), "{filename} -> {key}");
        assert_eq!(
            answer["Fields"]["key"],
            key.as_str(),
            "a form gets the exact key"
        );
        assert_eq!(answer["Fields"]["Content-Disposition"], "inline");
        assert_eq!(answer["Fields"]["x-oss-meta-kind"], "avatar");
        let conditions = policy_of(&answer)["conditions"].clone();
        let conditions = conditions.as_array().expect("conditions");
        assert!(
            conditions.contains(&json!(["content-length-range", 1, 2_097_152])),
            "{conditions:?}"
        );
        assert!(
            conditions.contains(&json!({"Content-Disposition": "inline"}))
                || conditions.contains(&json!(["eq", "$Content-Disposition", "inline"])),
            "{conditions:?}"
        );
        assert!(answer["ExpiresIn"].as_u64().expect("ExpiresIn") <= 600);
        records.push(record(version, &body.to_string(), &key, &answer));
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "each upload gets a key of its own");
    // No extension: the key is the UUID alone.
    let (status, answer) = ask(
        function,
        &json!({"profile": "avatar", "method": "POST", "contentType": "image/webp"}),
    );
    assert_eq!(status, 200, "{answer}");
    let bare = Regex::new(&format!("{AVATAR_KEY}$")).expect("regex");
    assert!(
        bare.is_match(answer["Key"].as_str().expect("Key")),
        "{answer}"
    );
    // Reading an avatar names its key, as without profiles.
    let read = json!({"profile": "avatar", "key": "avatars/anonymous/x.png"});
    let (status, answer) = ask(function, &read);
    assert_eq!((status, answer["Profile"].as_str()), (200, Some("avatar")));
    assert!(answer.get("Key").is_none(), "the client named it: {answer}");
    records.push(record(
        version,
        "avatar GET",
        "avatars/anonymous/x.png",
        &answer,
    ));
    // Listing under the avatar profile lists the avatar prefix (V1 does not sign a listing's
    // prefix: with the function's own key it is refused, as without profiles).
    if version == "v1" {
        return records;
    }
    let (status, answer) = ask(function, &json!({"profile": "avatar", "list": true}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Profile"], "avatar");
    assert!(
        answer["URL"]
            .as_str()
            .expect("URL")
            .contains("prefix=avatars%2Fanonymous%2F"),
        "{answer}"
    );
    records
}

/// The video profile: `on_violation` set, so a PUT and a multipart upload are signed though
/// OSS cannot bound their size; `Content-Disposition` is a signed header (V4), and V1, which
/// cannot sign it, refuses them.
fn videos(function: &Function, version: &str) -> Vec<Value> {
    let mut records = Vec::new();
    let key = "videos/anonymous/trip.mp4";
    let asks = [
        json!({"profile": "video", "key": key, "multipart": "initiate", "contentType": "video/mp4"}),
        json!({"profile": "video", "key": key, "method": "PUT", "contentType": "video/mp4"}),
    ];
    for body in asks {
        let (status, answer) = ask(function, &body);
        if version == "v1" {
            assert_eq!(
                (status, answer["ErrorCode"].as_str()),
                (400, Some("RuleNotEnforceable")),
                "{body}: {answer}"
            );
            continue;
        }
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer["Profile"], "video");
        assert_eq!(answer["Headers"]["Content-Disposition"], "attachment");
        let url = answer["URL"].as_str().expect("URL");
        assert!(
            url.contains("x-oss-additional-headers=content-disposition"),
            "{url}"
        );
        records.push(record(version, &body.to_string(), key, &answer));
    }
    // Steps that continue an upload carry no disposition; a batch names its profile.
    let parts = json!({"profile": "video", "key": key, "method": "PUT", "uploadId": "U1", "partNumbers": [1, 2]});
    let (status, answer) = ask(function, &parts);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Profile"], "video");
    let complete =
        json!({"profile": "video", "key": key, "multipart": "complete", "uploadId": "U1"});
    let (status, answer) = ask(function, &complete);
    assert_eq!((status, answer["Profile"].as_str()), (200, Some("video")));
    records.push(record(version, "video complete", key, &answer));
    records
}

/// The attachment profile, the file's `default_profile`: the client names the key; forms
/// carry its size range and disposition; its PUT is refused on OSS (a size bound, no
/// `on_violation`).
fn attachments(function: &Function, version: &str) -> Vec<Value> {
    let key = "attachments/anonymous/report 2026.pdf";
    let body = json!({"key": key, "method": "POST", "contentType": "application/pdf"});
    let (status, answer) = ask(function, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Profile"], "attachment", "the default profile");
    assert!(answer.get("Key").is_none(), "{answer}");
    assert_eq!(answer["Fields"]["Content-Disposition"], "attachment");
    let conditions = policy_of(&answer)["conditions"].clone();
    assert!(
        conditions.as_array().expect("conditions").contains(&json!([
            "content-length-range",
            0,
            104_857_600
        ])),
        "{conditions}"
    );
    let get = json!({"profile": "attachment", "key": key, "responseContentDisposition": "Attachment; filename=\"r.pdf\""});
    let (status, read) = ask(function, &get);
    assert_eq!(
        (status, read["Profile"].as_str()),
        (200, Some("attachment"))
    );
    vec![
        record(version, &body.to_string(), key, &answer),
        record(version, "attachment GET", key, &read),
    ]
}

/// Each refusal with its code.
fn refusals(function: &Function) {
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"profile": "nope", "key": "x"}),
            400,
            "UnknownProfile",
        ),
        (
            json!({"profile": "Avatar", "key": "avatars/anonymous/x"}),
            400,
            "UnknownProfile",
        ),
        (json!({"profile": 7, "key": "x"}), 400, "InvalidField"),
        (
            json!({"profile": "avatar", "method": "POST", "key": "avatars/anonymous/x.png", "contentType": "image/png"}),
            400,
            "KeyChosenByServer",
        ),
        (
            json!({"profile": "avatar", "method": "POST", "startsWith": true, "contentType": "image/png"}),
            400,
            "KeyChosenByServer",
        ),
        (
            json!({"profile": "avatar", "multipart": "initiate", "key": "avatars/anonymous/x.png", "contentType": "image/png"}),
            400,
            "KeyChosenByServer",
        ),
        (
            json!({"profile": "avatar", "method": "PUT", "filename": "me.png", "contentType": "image/png"}),
            400,
            "SizeNotEnforceable",
        ),
        (
            json!({"profile": "avatar", "method": "DELETE", "key": "avatars/anonymous/x.png"}),
            403,
            "MethodNotPermitted",
        ),
        (
            json!({"profile": "video", "method": "POST", "key": "videos/anonymous/v.mp4", "contentType": "video/mp4"}),
            403,
            "MethodNotPermitted",
        ),
        (
            json!({"profile": "avatar", "method": "POST", "filename": "page.html", "contentType": "text/html"}),
            403,
            "ContentTypeNotAllowed",
        ),
        (
            json!({"profile": "avatar", "method": "POST", "filename": "me.png"}),
            400,
            "ContentTypeRequired",
        ),
        (
            json!({"profile": "video", "key": "avatars/anonymous/v.mp4", "multipart": "initiate", "contentType": "video/mp4"}),
            403,
            "KeyOutsidePrefix",
        ),
        (
            json!({"profile": "attachment", "key": "avatars/anonymous/x.png"}),
            403,
            "KeyOutsidePrefix",
        ),
        (
            json!({"key": "attachments/anonymous/a.pdf", "method": "PUT"}),
            400,
            "SizeNotEnforceable",
        ),
        (
            json!({"key": "attachments/anonymous/a.html", "responseContentDisposition": "inline"}),
            403,
            "ContentDispositionNotAllowed",
        ),
        (
            json!({"key": "attachments/anonymous/a.html", "responseContentDisposition": "inline; filename=\"attachment\""}),
            403,
            "ContentDispositionNotAllowed",
        ),
        (
            json!({"key": "attachments/anonymous/a.pdf", "method": "POST", "filename": "a.pdf"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"profile": "avatar", "key": "avatars/anonymous/x.png", "filename": "x.png"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"profile": "avatar", "list": true, "filename": "x.png"}),
            400,
            "FieldNotApplicable",
        ),
    ];
    for (body, status, code) in cases {
        assert_eq!(
            refused(function, &body),
            (status, code.to_owned()),
            "{body}"
        );
    }
    // A hostile filename never makes a key outside the prefix, nor a hidden one.
    let hostile = [
        "../../attachments/victim/x.png",
        "x.png/../../y",
        "a/b.png",
        "a\\b.png",
        "..",
        ".",
        "",
        "invoice\u{202e}gnp.exe",
        "zero\u{200b}width.png",
        "nul\u{0}.png",
        "x.PN G",
        "x.p\u{0130}g",
        "x.png\u{feff}",
    ];
    for filename in hostile {
        let body = json!({"profile": "avatar", "method": "POST", "filename": filename, "contentType": "image/png"});
        assert_eq!(
            refused(function, &body),
            (400, "InvalidFilename".to_owned()),
            "{filename:?}"
        );
    }
    let long = format!("{}.png", "a".repeat(300));
    let body = json!({"profile": "avatar", "method": "POST", "filename": long, "contentType": "image/png"});
    assert_eq!(refused(function, &body).1, "InvalidFilename");
    // A query string says the same.
    let (status, _, text) = function.request("GET", "/?profile=nope&key=x", "");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("UnknownProfile"), "{text}");
    let (status, _, text) = function.request(
        "GET",
        "/?profile=avatar&method=POST&filename=..%2Fx.png&contentType=image%2Fpng",
        "",
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("InvalidFilename"), "{text}");
    let (status, _, text) = function.request(
        "GET",
        "/?profile=avatar&method=POST&filename=Cat.JPEG&contentType=image%2Fjpeg",
        "",
    );
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    let shape = Regex::new(&format!("{AVATAR_KEY}\\.jpeg$")).expect("regex");
    assert!(
        shape.is_match(answer["Key"].as_str().expect("Key")),
        "{text}"
    );
}

#[test]
fn without_a_default_profile_a_request_must_name_one() {
    let text = PROFILES.replace("default_profile = \"attachment\"", "");
    let file = profiles::write(tmp(), "no-default", &text);
    let function = start("v4", &file);
    assert_eq!(
        refused(&function, &json!({"key": "attachments/anonymous/a.pdf"})),
        (400, "ProfileRequired".to_owned())
    );
    let (status, answer) = ask(
        &function,
        &json!({"profile": "attachment", "key": "attachments/anonymous/a.pdf"}),
    );
    assert_eq!(
        (status, answer["Profile"].as_str()),
        (200, Some("attachment"))
    );
    function.stop();
}

#[test]
fn a_cap_set_by_a_profiles_expires_is_named_as_the_profiles() {
    let file = profiles::write(tmp(), "expires-cap", PROFILES);
    let function = start("v4", &file);
    // avatar: expires = 600 in the file; attachment: PRESIGN_MAX_EXPIRES_SECONDS (3600).
    let (status, answer) = ask(
        &function,
        &json!({"profile": "avatar", "filename": "me.png", "method": "POST", "contentType": "image/png", "expires": 5000}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ExpiresIn"], 600);
    assert_eq!(answer["ExpiresCappedBy"], "profile.expires");
    let (status, answer) = ask(
        &function,
        &json!({"key": "attachments/anonymous/a.pdf", "method": "GET", "expires": 5000}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ExpiresIn"], 3600);
    assert_eq!(answer["ExpiresCappedBy"], "PRESIGN_MAX_EXPIRES_SECONDS");
    function.stop();
}

#[test]
fn without_a_profiles_file_every_answer_names_the_profile_default() {
    let function = start_without_file();
    let (status, answer) = ask(&function, &json!({"key": "uploads/anonymous/a.png"}));
    assert_eq!((status, answer["Profile"].as_str()), (200, Some("default")));
    let (status, answer) = ask(
        &function,
        &json!({"profile": "default", "key": "uploads/anonymous/a.png", "method": "PUT"}),
    );
    assert_eq!((status, answer["Profile"].as_str()), (200, Some("default")));
    assert!(answer["Headers"].get("Content-Disposition").is_none());
    assert_eq!(
        refused(
            &function,
            &json!({"profile": "avatar", "key": "uploads/anonymous/a.png"})
        ),
        (400, "UnknownProfile".to_owned())
    );
    function.stop();
}

fn start_without_file() -> Function {
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.push(("AUTH_MODE", "none".to_owned()));
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

#[test]
fn a_bad_profiles_file_stops_start_up_naming_the_file_profile_and_field() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown-field",
            "[profiles.avatar]\nprefix = \"avatars/${sub}/\"\nmax_size = 10\n",
            &["\"avatar\"", "max_size"],
        ),
        (
            "bad-value",
            "[profiles.avatar]\nprefix = \"avatars/${sub}/\"\ncontent_disposition = \"download\"\n",
            &["\"avatar\"", "content_disposition"],
        ),
        (
            "bad-methods",
            "[profiles.clips]\nprefix = \"clips/${sub}/\"\nmethods = [\"PATCH\"]\n",
            &["\"clips\"", "field methods", "PATCH"],
        ),
        (
            "bad-types",
            "[profiles.clips]\nprefix = \"clips/${sub}/\"\ncontent_types = [\"video\"]\n",
            &["\"clips\"", "field content_types"],
        ),
        (
            "min-over-default-max",
            "[profiles.clips]\nprefix = \"clips/${sub}/\"\nmin_bytes = 104857601\n",
            &["\"clips\"", "field min_bytes"],
        ),
        (
            "bad-name",
            "[profiles.Clips]\nprefix = \"clips/${sub}/\"\n",
            &["\"Clips\"", "lower-case"],
        ),
        (
            "overlap",
            "[profiles.all]\nprefix = \"uploads/${sub}/\"\n[profiles.mine]\nprefix = \"uploads/me/\"\n",
            &["\"all\"", "\"mine\"", "field prefix"],
        ),
    ];
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    for &(name, text, says) in cases {
        let file = profiles::write(tmp(), name, text);
        let mut envs = base_env(sts);
        envs.extend([
            ("AUTH_MODE", "none".to_owned()),
            ("PROFILES_FILE", file.clone()),
        ]);
        let (code, output) = profiles::refused_start(env!("CARGO_BIN_EXE_presign-url"), &envs);
        assert_eq!(code, Some(2), "{name}: {output}");
        assert!(output.contains("PROFILES_FILE"), "{name}: {output}");
        assert!(output.contains(&file), "{name}: {output}");
        for word in says {
            assert!(
                output.contains(word),
                "{name}: {word} missing from {output}"
            );
        }
    }
    let mut envs = base_env(sts);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("PROFILES_FILE", format!("{}/profiles/missing.toml", tmp())),
    ]);
    let (code, output) = profiles::refused_start(env!("CARGO_BIN_EXE_presign-url"), &envs);
    assert_eq!(code, Some(2), "{output}");
    assert!(output.contains("missing.toml"), "{output}");
}

/// `PROVIDER=aws` against s3s-fs, which checks every signature and POST policy itself: the
/// avatar's PUT must carry a `contentLength` within its range and its `Content-Disposition`;
/// its form's `content-length-range` starts at 1; a video's multipart upload is signed (its
/// size is record-upload's to check). Every answer goes to
/// `$CARGO_TARGET_TMPDIR/s3-profiles-presigned.jsonl` for `verify_s3_presigned.py` (botocore).
#[test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
fn profiles_hold_at_a_verifying_s3_store() {
    use crate::s3s_fs::{Store, form_body, headers_of, presigner_with, record, send, sign};
    use stsvend_test_support::http::http;

    let store = Store::start("profiles");
    let file = profiles::write(tmp(), "s3", PROFILES);
    let function = presigner_with(&store, None, &[("PROFILES_FILE", &file)]);
    let mut records = Vec::new();
    let picture = b"\x89PNG an avatar's bytes";
    let shape = Regex::new(&format!("{AVATAR_KEY}\\.png$")).expect("regex");

    // The avatar's PUT: server-chosen key, contentLength and Content-Disposition signed.
    let put = sign(
        &function,
        &json!({"profile": "avatar", "method": "PUT", "filename": "Me.PNG", "contentType": "image/png", "contentLength": picture.len()}),
    );
    let key = put["Key"].as_str().expect("Key").to_owned();
    assert!(shape.is_match(&key), "{put}");
    assert_eq!(put["Profile"], "avatar");
    assert_eq!(put["Headers"]["Content-Disposition"], "inline");
    assert_eq!(put["Headers"]["x-amz-meta-kind"], "avatar");
    record(&mut records, "profiles: avatar PUT", &key, None, &put);
    let dropped: Vec<(String, String)> = headers_of(&put)
        .into_iter()
        .filter(|(name, _)| name != "Content-Disposition")
        .collect();
    let refs: Vec<(&str, &str)> = dropped
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, body) = http("PUT", put["URL"].as_str().expect("URL"), &refs, picture);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let mut attachment = put.clone();
    attachment["Headers"]["Content-Disposition"] = json!("attachment");
    assert_eq!(send(&attachment, picture).0, 403, "another disposition");
    assert_eq!(send(&put, picture).0, 200);
    let head = sign(
        &function,
        &json!({"profile": "avatar", "key": key, "method": "HEAD"}),
    );
    let (status, headers, _) = http("HEAD", head["URL"].as_str().expect("URL"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-disposition").map(String::as_str),
        Some("inline"),
        "{headers:?}"
    );

    // Sizes: an S3 PUT must sign a contentLength within min_bytes..max_bytes.
    for (length, code) in [
        (None, "SizeRequired"),
        (Some(0), "ContentLengthTooSmall"),
        (Some(2_097_153), "ContentLengthTooLarge"),
    ] {
        let mut body = json!({"profile": "avatar", "method": "PUT", "filename": "a.png", "contentType": "image/png"});
        if let Some(length) = length {
            body["contentLength"] = json!(length);
        }
        assert_eq!(refused(&function, &body), (400, code.to_owned()), "{body}");
    }
    assert_eq!(
        refused(
            &function,
            &json!({"key": "attachments/anonymous/a.pdf", "method": "PUT"})
        ),
        (400, "SizeRequired".to_owned())
    );

    // The avatar's form: the exact key, 1 byte at least, the disposition pinned.
    let form = sign(
        &function,
        &json!({"profile": "avatar", "method": "POST", "filename": "form.png", "contentType": "image/png"}),
    );
    let form_key = form["Key"].as_str().expect("Key").to_owned();
    assert!(shape.is_match(&form_key), "{form}");
    assert_eq!(form["Fields"]["Content-Disposition"], "inline");
    record(
        &mut records,
        "profiles: avatar form",
        &form_key,
        None,
        &form,
    );
    let fields = form["Fields"].as_object().expect("Fields");
    let url = form["URL"].as_str().expect("URL");
    let (content_type, empty) = form_body(fields, b"");
    let (status, _, answer) = http("POST", url, &[("Content-Type", &content_type)], &empty);
    assert!(
        !(200..300).contains(&status),
        "an empty avatar is under min_bytes: {status} {}",
        String::from_utf8_lossy(&answer)
    );
    let mut other = fields.clone();
    other.insert("Content-Disposition".to_owned(), json!("attachment"));
    let (content_type, body) = form_body(&other, picture);
    let (status, _, _) = http("POST", url, &[("Content-Type", &content_type)], &body);
    assert!(
        !(200..300).contains(&status),
        "another disposition: {status}"
    );
    let (content_type, body) = form_body(fields, picture);
    let (status, _, answer) = http("POST", url, &[("Content-Type", &content_type)], &body);
    assert!(
        (200..300).contains(&status),
        "{status}: {}",
        String::from_utf8_lossy(&answer)
    );

    // A video's multipart upload is signed, with its disposition, and the store starts it.
    let video = "videos/anonymous/trip.mp4";
    let initiate = sign(
        &function,
        &json!({"profile": "video", "key": video, "multipart": "initiate", "contentType": "video/mp4"}),
    );
    assert_eq!(initiate["Profile"], "video");
    assert_eq!(initiate["Headers"]["Content-Disposition"], "attachment");
    record(
        &mut records,
        "profiles: video initiate",
        video,
        None,
        &initiate,
    );
    let (status, xml) = send(&initiate, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xml));
    function.stop();

    let path = format!("{}/s3-profiles-presigned.jsonl", tmp());
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write records");
}
