//! What the official mobile SDKs do with issue-token's real answers.
//!
//! Android's `OSSAuthCredentialsProvider` and iOS's `OSSAuthCredentialProvider` cannot run
//! here, so their parsing rules are modelled below exactly as `../shared/reference/CLIENTS.md`
//! reads them from the SDKs' sources, and issue-token's answers (from the binary, against a
//! stand-in STS) are fed through them: each SDK must accept the success with the right
//! expiry, and fail cleanly on every error.

use serde_json::Value;
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, StandInSts};

#[derive(Debug, PartialEq)]
struct Token {
    access_key_id: String,
    access_key_secret: String,
    security_token: String,
    /// Seconds since the epoch, as the SDK computes it.
    expiration: i64,
}

/// `OSSFederationToken.setExpirationInGMTFormat`: `SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss")`,
/// UTC, lenient, parses a prefix (a trailing `Z`, `.000Z` or offset is ignored); unparseable
/// gives `now + 30 s`, which we report as `None`.
fn android_expiration(text: &str) -> Option<i64> {
    let prefix = text.get(..19)?;
    let parsed = stsvend::parse_iso8601(&format!("{prefix}Z"))?;
    i64::try_from(stsvend::unix_seconds(parsed)).ok()
}

/// iOS `NSDateFormatter` with `yyyy-MM-dd'T'HH:mm:ssZ` (`en_US_POSIX`): the STS form with `Z`
/// (or a numeric offset); fractional seconds do not parse (nil: the token looks expired on
/// every use).
fn ios_expiration(text: &str) -> Option<i64> {
    let (prefix, zone) = text.split_at_checked(19)?;
    let utc = zone == "Z" || zone == "+0000";
    utc.then(|| android_expiration(prefix)).flatten()
}

/// `OSSAuthCredentialsProvider.getFederationToken` on Android.
fn android(status: u16, body: &str) -> Result<Token, String> {
    if status >= 400 {
        // HttpURLConnection.getInputStream() throws; the body is never read.
        return Err(format!(
            "ClientException: IOException: Server returned HTTP response code: {status}"
        ));
    }
    let json: Value =
        serde_json::from_str(body).map_err(|e| format!("ClientException: JSONException: {e}"))?;
    let status_code = match &json["StatusCode"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(), // org.json getInt coerces "200"
        _ => None,
    }
    .ok_or("ClientException: JSONException: StatusCode")?;
    let string = |name: &str| {
        json[name]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("ClientException: JSONException: {name}"))
    };
    if status_code == 200 {
        let expiration = string("Expiration")?;
        Ok(Token {
            access_key_id: string("AccessKeyId")?,
            access_key_secret: string("AccessKeySecret")?,
            security_token: string("SecurityToken")?,
            expiration: android_expiration(&expiration)
                .ok_or("expiration falls back to now + 30 s")?,
        })
    } else {
        Err(format!(
            "ClientException: ErrorCode: {}| ErrorMessage: {}",
            string("ErrorCode")?,
            string("ErrorMessage")?
        ))
    }
}

/// `OSSAuthCredentialProvider` on iOS: the status is ignored, the body decides.
fn ios(body: &str) -> Option<Token> {
    let json: Value = serde_json::from_str(body).ok()?;
    let status_code = match &json["StatusCode"] {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.parse().ok()?,
        _ => 0,
    };
    if status_code != 200 {
        return None; // NSError "Can't get a federation token"
    }
    Some(Token {
        access_key_id: json["AccessKeyId"].as_str()?.to_owned(),
        access_key_secret: json["AccessKeySecret"].as_str()?.to_owned(),
        security_token: json["SecurityToken"].as_str()?.to_owned(),
        expiration: ios_expiration(json["Expiration"].as_str()?)?,
    })
}

#[test]
fn both_mobile_sdks_accept_the_success_and_fail_cleanly_on_every_error() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("STS_TIMEOUT_MS", "800".to_owned()),
    ]);
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);

    // STS writes Expiration to the second; even if it ever sent milliseconds, issue-token
    // answers the plain form, which iOS's formatter needs.
    for expiration in ["2026-11-22T09:08:10Z", "2026-11-22T09:08:10.123Z"] {
        sts.next(Canned::Reply(
            200,
            sts::success_body_until("anonymous", expiration),
        ));
        let (status, _, body) = function.request("GET", "/", "");
        let expected = Token {
            access_key_id: "STS.test-vended-key".to_owned(),
            access_key_secret: sts::VENDED_SECRET.to_owned(),
            security_token: sts::VENDED_TOKEN.to_owned(),
            expiration: 1_795_338_490, // date -u -d 2026-11-22T09:08:10Z +%s
        };
        assert_eq!(android(status, &body), Ok(expected), "{body}");
        let ios_token = ios(&body).unwrap_or_else(|| panic!("iOS refuses {body}"));
        assert_eq!(ios_token.expiration, 1_795_338_490, "{expiration}");
    }

    let errors: Vec<(Canned, &str)> = vec![
        (
            Canned::Reply(
                400,
                r#"{"RequestId":"a","Code":"Throttling.User","Message":"flow control"}"#.into(),
            ),
            "Throttling.User",
        ),
        (
            Canned::Reply(
                403,
                r#"{"RequestId":"b","Code":"NoPermission","Message":"not authorized"}"#.into(),
            ),
            "NoPermission",
        ),
        (
            Canned::Reply(200, "<html>captive portal</html>".into()),
            "StsBadResponse",
        ),
        (Canned::Drop, "StsUnreachable"),
    ];
    for (canned, code) in errors {
        // Throttling and a dropped connection are tried three times.
        let times = if matches!(code, "Throttling.User" | "StsUnreachable") {
            3
        } else {
            1
        };
        for _ in 0..times {
            sts.next(canned.clone());
        }
        let (status, _, body) = function.request("GET", "/", "");
        let answer: Value = serde_json::from_str(&body).expect("JSON error body");
        assert_eq!(answer["ErrorCode"], code);
        assert!(status >= 400);
        let android_error = android(status, &body).expect_err(code);
        assert!(
            android_error.starts_with("ClientException"),
            "{android_error}"
        );
        assert_eq!(
            ios(&body),
            None,
            "iOS must see StatusCode {status} as a failure"
        );
        // Were the status below 400, Android would read these two strings.
        assert!(answer["ErrorCode"].is_string() && answer["ErrorMessage"].is_string());
        sts::wait_out_failure_hold();
    }
    function.stop();
}
