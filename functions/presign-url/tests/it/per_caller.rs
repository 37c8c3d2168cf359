//! presign-url with an assumed role: two callers who share a tenant prefix (so their session
//! policies are identical) sign with two STS sessions, each named after its own caller; a URL
//! never carries another caller's session key.

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::{self, Function};
use stsvend_test_support::sts::issued_to;
use stsvend_test_support::tokens;

fn url_for(function: &Function, sub: &str) -> String {
    let auth = tokens::hs256_bearer_of_tenant(sub, "acme", unix_seconds(SystemClock.now()));
    let body = json!({"key": format!("tenants/acme/{sub}.png"), "method": "PUT"}).to_string();
    let (status, _, text) =
        function.request_with_headers("POST", "/", &[("Authorization", &auth)], &body);
    assert_eq!(status, 200, "{sub}: {text}");
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    answer["URL"].as_str().expect("URL").to_owned()
}

#[test]
fn callers_sharing_a_tenant_prefix_sign_with_sessions_of_their_own() {
    let (sts, function) =
        function::start_for_one_tenant(env!("CARGO_BIN_EXE_presign-url"), tokens::hs256_env());
    let urls: Vec<(String, &str)> = ["alice", "bob", "alice"]
        .into_iter()
        .map(|sub| (url_for(&function, sub), sub))
        .collect();
    function.stop();

    for (url, sub) in &urls {
        let (id, _, token) = issued_to(sub);
        // The token is `CAIS+token-of-<sub>==`; in a query, `+` is %2B and `=` is %3D.
        let token = token.replace('+', "%2B").replace('=', "%3D");
        assert!(
            url.contains(&format!("x-oss-credential={id}%2F")),
            "{sub}'s URL is signed with another session's key: {url}"
        );
        assert!(
            url.contains(&format!("x-oss-security-token={token}&")),
            "{sub}: {url}"
        );
    }
    let received = sts.take_received();
    assert_eq!(received.len(), 2, "one STS call per caller");
    for request in &received {
        assert!(request.problems.is_empty(), "{:?}", request.problems);
    }
}
