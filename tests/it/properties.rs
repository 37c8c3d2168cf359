//! Property tests: round trips and invariants over generated inputs.

use std::time::{Duration, UNIX_EPOCH};

use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use stsvend::{
    Caller, PolicyTemplate, PolicyVars, PrefixTemplate, check_segment, format_iso8601,
    parse_iso8601,
    sign::{RFC3986_PATH, RFC3986_UNRESERVED, percent_encode},
};

/// Identity values that pass the safe-segment rule.
fn safe_segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._@:+=-]{1,64}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    #[test]
    fn percent_encoding_round_trips_and_emits_only_safe_characters(s in "\\PC{0,64}") {
        for set in [RFC3986_UNRESERVED, RFC3986_PATH] {
            let encoded = percent_encode(&s, set);
            prop_assert_eq!(percent_decode_str(&encoded).decode_utf8().expect("utf-8"), s.as_str());
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b)));
            prop_assert!(!encoded.contains('+') && !encoded.contains(' '));
        }
    }

    #[test]
    fn iso8601_round_trips_for_any_second_until_9999(secs in 0u64..253_402_300_799) {
        let t = UNIX_EPOCH + Duration::from_secs(secs);
        prop_assert_eq!(parse_iso8601(&format_iso8601(t)), Some(t));
    }

    #[test]
    fn parsing_never_panics_on_any_text(s in "\\PC{0,40}") {
        let _ = parse_iso8601(&s);
        let _ = stsvend::sign::aliyun::sts::parse_assume_role_response(200, s.as_bytes());
        let _ = stsvend::sign::aws::sts::parse_assume_role_response(200, s.as_bytes());
        let _ = stsvend::jwt::decode(&s);
    }

    #[test]
    fn distinct_callers_get_disjoint_prefixes(a in safe_segment(), b in safe_segment(), t in safe_segment()) {
        prop_assume!(a != b);
        let template = PrefixTemplate::parse("tenants/${claim.t}/users/${sub}/").expect("template");
        let caller = |sub: &str| {
            let mut c = Caller::with_sub(sub);
            c.claims.insert("t".to_owned(), t.clone());
            c
        };
        let (pa, pb) = (template.render(&caller(&a)).expect("a"), template.render(&caller(&b)).expect("b"));
        prop_assert!(!pa.starts_with(&pb) && !pb.starts_with(&pa), "{} / {}", pa, pb);
    }

    #[test]
    fn a_rendered_policy_is_json_whose_resource_is_exactly_the_prefix(sub in safe_segment()) {
        let template = PolicyTemplate::bundled("bucket_write_policy.json").expect("bundled");
        let caller = Caller::with_sub(sub.clone());
        let prefix = PrefixTemplate::parse("uploads/${sub}/").expect("template").render(&caller).expect("prefix");
        let rendered = template
            .render(&PolicyVars { bucket: "examplebucket", object_prefix: &prefix, imm_project: None, caller: &caller })
            .expect("render");
        let policy: serde_json::Value = serde_json::from_str(&rendered).expect("JSON");
        prop_assert_eq!(&policy["Statement"][0]["Resource"], &serde_json::json!([format!("acs:oss:*:*:examplebucket/uploads/{sub}/*")]));
    }

    #[test]
    fn unsafe_values_are_always_refused(s in "\\PC{0,40}") {
        let safe = check_segment(&s).is_ok();
        let plausible = !s.is_empty() && s.len() <= 128 && s != "." && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@:+=-".contains(&b));
        prop_assert_eq!(safe, plausible);
    }
}
