//! issue-token with upload profiles (`PROFILES_FILE`): `?profile=NAME` renders that profile's
//! session-policy template (`policy`, else `POLICY_FILE`'s) with that profile's prefix, and the
//! answer keeps the mobile SDKs' shape; an unknown profile is refused before STS is asked; a bad
//! file stops start-up naming the file, the profile and the field.

use serde_json::Value;
use stsvend_test_support::function::Function;
use stsvend_test_support::profiles::{self, PROFILES};
use stsvend_test_support::sts::{self, Canned, Expected, StandInSts};

/// The avatar profile's own template: uploads only.
const AVATAR_POLICY: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:PutObject"],"Resource":["acs:oss:*:*:$BUCKET_NAME/$OBJECT_PREFIX*"]}]}"#;

fn tmp() -> &'static str {
    env!("CARGO_TARGET_TMPDIR")
}

/// The profiles file, the avatar profile with its own policy file beside it.
fn profiles_file(name: &str, text: &str) -> String {
    let text = text.replace(
        "[profiles.avatar]\n",
        "[profiles.avatar]\npolicy = \"avatar_policy.json\"\n",
    );
    let path = profiles::write(tmp(), name, &text);
    let dir = std::path::Path::new(&path).parent().expect("dir");
    std::fs::write(dir.join("avatar_policy.json"), AVATAR_POLICY).expect("policy");
    path
}

fn start(sts: &StandInSts, file: &str) -> Function {
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("PROFILES_FILE", file.to_owned()),
    ]);
    Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs)
}

/// The session policy of each AssumeRole the stand-in received, after checking that it found
/// nothing wrong (signature, session name, the expected resource).
fn policies(sts: &StandInSts) -> Vec<Value> {
    sts.take_received()
        .into_iter()
        .map(|request| {
            assert!(request.problems.is_empty(), "{:?}", request.problems);
            let form: Vec<(String, String)> = form_urlencoded::parse(request.body.as_bytes())
                .into_owned()
                .collect();
            let policy = form
                .iter()
                .find(|(name, _)| name == "Policy")
                .map(|(_, value)| value.clone())
                .expect("Policy");
            serde_json::from_str(&policy).expect("policy JSON")
        })
        .collect()
}

fn code(body: &str) -> String {
    let answer: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    answer["ErrorCode"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_profile_in_the_token_url_renders_its_own_policy_with_its_own_prefix() {
    let file = profiles_file("issue-token", PROFILES);
    let sts = StandInSts::start(Expected {
        session: "anonymous",
        resource: "acs:oss:*:*:examplebucket/avatars/anonymous/*",
    });
    let function = start(&sts, &file);
    sts.next(Canned::Reply(200, sts::success_body("anonymous")));
    let (status, _, body) = function.request("GET", "/token?profile=avatar", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        sts::expected_answer(),
        "the answer the SDKs read, unchanged"
    );
    let sent = policies(&sts);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["Statement"][0]["Action"],
        serde_json::json!(["oss:PutObject"]),
        "the avatar profile's own template: {}",
        sent[0]
    );
    for (path, status, expected) in [
        ("/token?profile=nope", 400, "UnknownProfile"),
        ("/token?profile=Avatar", 400, "UnknownProfile"),
        ("/token?profile=avatar&profile=video", 400, "DuplicateField"),
        ("/token?profile=%zz", 400, "InvalidRequest"),
    ] {
        let (got, _, body) = function.request("GET", path, "");
        assert_eq!((got, code(&body)), (status, expected.to_owned()), "{path}");
    }
    assert!(
        sts.take_received().is_empty(),
        "refused before STS is asked"
    );
    function.stop();
}

#[test]
fn without_profile_the_default_profile_and_the_policy_file_apply() {
    let file = profiles_file("issue-token-default", PROFILES);
    let sts = StandInSts::start(Expected {
        session: "anonymous",
        resource: "acs:oss:*:*:examplebucket/attachments/anonymous/*",
    });
    let function = start(&sts, &file);
    for path in ["/token", "/token?profile=attachment&other=1"] {
        sts.next(Canned::Reply(200, sts::success_body("anonymous")));
        let (status, _, body) = function.request("GET", path, "");
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The bundled write policy (no `policy` in the profile), with the attachment prefix.
    for policy in policies(&sts) {
        assert!(
            policy.to_string().contains("oss:PutObject")
                && policy.to_string().contains("attachments/anonymous/"),
            "{policy}"
        );
    }
    function.stop();

    let file = profiles_file(
        "issue-token-no-default",
        &PROFILES.replace("default_profile = \"attachment\"", ""),
    );
    let function = start(&sts, &file);
    let (status, _, body) = function.request("GET", "/token", "");
    assert_eq!((status, code(&body)), (400, "ProfileRequired".to_owned()));
    function.stop();
}

#[test]
fn a_bad_profile_policy_stops_start_up_naming_the_file_profile_and_field() {
    let text =
        "[profiles.avatar]\nprefix = \"avatars/${sub}/\"\npolicy = \"missing_policy.json\"\n";
    let file = profiles::write(tmp(), "issue-token-bad-policy", text);
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = sts::base_env(sts);
    envs.push(("PROFILES_FILE", file.clone()));
    let (code, output) = profiles::refused_start(env!("CARGO_BIN_EXE_issue-token"), &envs);
    assert_eq!(code, Some(2), "{output}");
    for word in ["PROFILES_FILE", file.as_str(), "\"avatar\"", "field policy"] {
        assert!(output.contains(word), "{word} missing from {output}");
    }
}
