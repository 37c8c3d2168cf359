//! The `process` field: OSS `x-oss-process`, held to `ALLOWED_PROCESS`.
//!
//! A signed `x-oss-process` runs whatever it names at the bucket owner's expense: image
//! processing, but also IMM, video snapshots and document conversion, which are billed, and a
//! watermark whose `image_` parameter names another object of the bucket to draw onto the
//! answer. So presign-url signs only the operations the deployment allows, and a watermark only
//! from an object under the caller's own prefix.
//!
//! # Format
//! ```text
//! process   = kind "/" operation *( "/" operation )      e.g. image/resize,w_100/quality,q_80
//! operation = name *( "," parameter )                   e.g. watermark,image_<base64url key>,t_50
//! ```
//!
//! # Reference
//! OSS image processing, "Parameters" and "Watermarks" (the `image_` parameter is the URL-safe
//! base64 of the watermark object's name).

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use lambda_http::http::StatusCode;
use stsvend::check_key;
use stsvend_host::ApiError;

/// Checks a `process` value: only the characters OSS's syntax uses, every operation allowed
/// by an entry of `allowed` (`kind/name` or `kind/*`), and a watermark image only under
/// `prefix`.
pub(crate) fn check(value: &str, allowed: &[String], prefix: &str) -> Result<(), ApiError> {
    if allowed.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ProcessNotAllowed",
            "this deployment signs no process (ALLOWED_PROCESS is empty)",
        ));
    }
    let invalid = |why: &str| ApiError::bad_request("InvalidProcess", format!("process: {why}"));
    // No `|` (OSS's pipe to `sys/saveas`, which writes an object), `?`, `%` or spaces.
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/,_-.=".contains(&b))
    {
        return Err(invalid(
            "holds a character outside letters, digits and /,_-.=",
        ));
    }
    let Some((kind, operations)) = value.split_once('/').filter(|(kind, _)| !kind.is_empty())
    else {
        return Err(invalid("is not kind/operation, e.g. image/resize,w_100"));
    };
    // OSS reads names case-insensitively; base64 parameters are case-sensitive.
    let kind = kind.to_ascii_lowercase();
    for operation in operations.split('/') {
        let mut parts = operation.split(',');
        let name = parts.next().unwrap_or_default().to_ascii_lowercase();
        if name.is_empty() {
            return Err(invalid("has an empty operation"));
        }
        let allowed_here = allowed.iter().any(|entry| {
            entry
                .split_once('/')
                .is_some_and(|(k, n)| k == kind && (n == name || n == "*"))
        });
        if !allowed_here {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ProcessNotAllowed",
                format!(
                    "{kind}/{name} is not among {} (ALLOWED_PROCESS)",
                    allowed.join(", ")
                ),
            ));
        }
        if name == "watermark" {
            for parameter in parts {
                let named_image = parameter
                    .get(..6)
                    .is_some_and(|p| p.eq_ignore_ascii_case("image_"));
                if named_image {
                    check_watermark_image(&parameter[6..], prefix)?;
                }
            }
        }
    }
    Ok(())
}

/// A watermark's `image_`: the URL-safe base64 of an object key under `prefix`.
fn check_watermark_image(encoded: &str, prefix: &str) -> Result<(), ApiError> {
    let key = URL_SAFE_NO_PAD
        .decode(encoded)
        .or_else(|_| URL_SAFE.decode(encoded))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidProcess",
                "process: a watermark's image_ must be the URL-safe base64 of an object key",
            )
        })?;
    if key.contains('?') {
        // `key?x-oss-process=...` would run a second, unchecked process on the watermark.
        return Err(ApiError::bad_request(
            "InvalidProcess",
            "process: a watermark image cannot carry its own process",
        ));
    }
    if check_key(&key).is_err() || !key.starts_with(prefix) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KeyOutsidePrefix",
            format!("a watermark image must be an object under your prefix {prefix:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        [
            "image/resize",
            "image/crop",
            "image/rotate",
            "image/format",
            "image/quality",
            "image/auto-orient",
            "image/info",
            "image/watermark",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn code(value: &str, allowed: &[String]) -> &'static str {
        match check(value, allowed, "uploads/alice/") {
            Ok(()) => "ok",
            Err(e) if e.code == "ProcessNotAllowed" => "ProcessNotAllowed",
            Err(e) if e.code == "InvalidProcess" => "InvalidProcess",
            Err(e) if e.code == "KeyOutsidePrefix" => "KeyOutsidePrefix",
            Err(e) => panic!("{value}: unexpected {}", e.code),
        }
    }

    #[test]
    fn thumbnails_pass_and_billed_or_foreign_operations_do_not() {
        let allowed = defaults();
        for value in [
            "image/resize,w_100",
            "image/resize,m_lfit,w_100,h_100/quality,q_80/format,webp",
            "image/auto-orient,1/info",
            "IMAGE/Resize,w_100",
        ] {
            assert_eq!(code(value, &allowed), "ok", "{value}");
        }
        for value in [
            "video/snapshot,t_1000,f_jpg",
            "doc/preview",
            "image/blur,r_3,s_2",
            "style/thumb",
            "image/resize,w_100/blur,r_3",
        ] {
            assert_eq!(code(value, &allowed), "ProcessNotAllowed", "{value}");
        }
        for value in [
            "image/resize,w_100|sys/saveas,o_b3V0,b_YnVja2V0",
            "image",
            "/resize",
            "image/resize,w_100//quality",
            "image/resize,w_100?x",
            "image/resize,w%5F100",
        ] {
            assert_eq!(code(value, &allowed), "InvalidProcess", "{value}");
        }
        let styles = vec!["style/*".to_owned()];
        assert_eq!(code("style/thumb", &styles), "ok");
        assert_eq!(code("image/resize,w_1", &styles), "ProcessNotAllowed");
        assert_eq!(code("image/resize,w_1", &[]), "ProcessNotAllowed");
    }

    #[test]
    fn a_watermark_image_must_lie_under_the_callers_prefix() {
        let allowed = defaults();
        let mark = |key: &str, pad: bool| {
            let engine = if pad { URL_SAFE } else { URL_SAFE_NO_PAD };
            format!("image/watermark,image_{},t_50", engine.encode(key))
        };
        // "uploads/alice/logo.png" and "uploads/bob/secret.png" in URL-safe base64, by hand:
        // printf %s uploads/alice/logo.png | base64 | tr '+/' '-_'
        assert_eq!(
            mark("uploads/alice/logo.png", true),
            "image/watermark,image_dXBsb2Fkcy9hbGljZS9sb2dvLnBuZw==,t_50"
        );
        assert_eq!(code(&mark("uploads/alice/logo.png", true), &allowed), "ok");
        assert_eq!(code(&mark("uploads/alice/logo.png", false), &allowed), "ok");
        for foreign in [
            "uploads/bob/secret.png",
            "uploads/alice/../bob/x.png",
            "x.png",
        ] {
            assert_eq!(
                code(&mark(foreign, false), &allowed),
                "KeyOutsidePrefix",
                "{foreign}"
            );
        }
        assert_eq!(
            code(
                &mark("uploads/alice/a.png?x-oss-process=video/snapshot", false),
                &allowed
            ),
            "InvalidProcess"
        );
        assert_eq!(
            code("image/watermark,image_!!!", &allowed),
            "InvalidProcess"
        );
        assert_eq!(
            code("image/resize,w_10/watermark,text_SGVsbG8", &allowed),
            "ok",
            "a text watermark names no object"
        );
    }
}
