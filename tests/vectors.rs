//! Known-answer tests: every case of `tests/vectors/*.json`, checked stage by stage.
//!
//! The expected values are published ones (or agreed by official SDKs), kept as data with
//! their source; nothing here is computed by the code under test. Every mismatch is reported
//! by case and stage before the test fails.

use serde::Deserialize;
use stsvend::aliyun::rpc;

#[derive(Deserialize)]
struct VectorFile<C> {
    cases: Vec<C>,
}

fn load<C: for<'de> Deserialize<'de>>(name: &str) -> Vec<C> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file: VectorFile<C> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(!file.cases.is_empty(), "{path} has no cases");
    file.cases
}

/// Collects stage mismatches so that one run shows all of them.
#[derive(Default)]
struct Mismatches(Vec<String>);

impl Mismatches {
    fn check(&mut self, case: &str, stage: &str, expected: &str, actual: &str) {
        if expected != actual {
            self.0.push(format!(
                "{case} / {stage}\n  expected: {expected}\n  actual:   {actual}"
            ));
        }
    }

    fn assert_none(self, file: &str) {
        assert!(
            self.0.is_empty(),
            "{file}: {} mismatches\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

#[derive(Deserialize)]
struct RpcCase {
    name: String,
    source: String,
    method: String,
    access_key_secret: String,
    params: Vec<(String, String)>,
    canonicalized_query_string: String,
    string_to_sign: String,
    signature: String,
}

#[test]
fn aliyun_rpc_v1_vectors_match_stage_by_stage() {
    let cases: Vec<RpcCase> = load("aliyun_rpc_v1.json");
    let mut mismatches = Mismatches::default();
    for case in &cases {
        assert!(!case.source.is_empty(), "{} has no source", case.name);
        let canonical = rpc::canonicalized_query_string(&case.params);
        mismatches.check(
            &case.name,
            "canonicalized query string",
            &case.canonicalized_query_string,
            &canonical,
        );
        let string_to_sign = rpc::string_to_sign(&case.method, &canonical);
        mismatches.check(
            &case.name,
            "string to sign",
            &case.string_to_sign,
            &string_to_sign,
        );
        let signature = rpc::signature(&case.access_key_secret, &case.string_to_sign);
        mismatches.check(&case.name, "signature", &case.signature, &signature);
    }
    mismatches.assert_none("aliyun_rpc_v1.json");
}
