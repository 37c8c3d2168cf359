//! Which of Uppy Companion's S3 routes a request names, read from the tail of its path: the
//! segment `s3` and what follows it (`s3/params`, `s3/multipart/UPLOADID/batch`, ...), and the
//! segment before `s3`, which may name an upload profile (`.../avatar/s3/params`).
//!
//! # Reference
//! Companion 6.2.2, `packages/@uppy/companion/src/server/controllers/s3.ts`: the routes are
//! mounted under `<companionUrl>/s3`.

use lambda_http::http::{Method, StatusCode};
use stsvend::sign::{Decoding, percent_decode};
use stsvend_host::ApiError;

/// One of Companion's S3 routes, with what its path carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET s3/params`: a form upload.
    Params,
    /// `GET s3/sts`: temporary credentials.
    Sts,
    /// `POST s3/multipart`: CreateMultipartUpload.
    Create,
    /// `GET s3/multipart/UPLOADID`: ListParts.
    List { upload_id: String },
    /// `GET s3/multipart/UPLOADID/batch`: many part URLs.
    Batch { upload_id: String },
    /// `GET s3/multipart/UPLOADID/N`: one part URL.
    Part { upload_id: String, part_number: u32 },
    /// `POST s3/multipart/UPLOADID/complete`: CompleteMultipartUpload.
    Complete { upload_id: String },
    /// `DELETE s3/multipart/UPLOADID`: AbortMultipartUpload.
    Abort { upload_id: String },
}

/// A Companion request's route, and the path segment before `s3` (a profile's name, or the
/// deployment's own path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) route: Route,
    pub(crate) before: Option<String>,
}

/// The route `path` names, when its tail is one of Companion's; `None` for any other path (a
/// presign-url request as usual). A Companion path with another method, a malformed
/// percent-escape or a part number that is not 1 to 10000 is refused.
pub(crate) fn find(method: &Method, path: &str) -> Option<Result<Found, ApiError>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = segments.iter().rposition(|s| *s == "s3")?;
    let tail = &segments[at + 1..];
    let shape = shape(tail)?;
    let before = at.checked_sub(1).map(|i| decoded(segments[i])).transpose();
    Some(before.and_then(|before| {
        let route = route(method, shape, tail)?;
        Ok(Found { route, before })
    }))
}

/// The routes' shapes, by the literal segments of the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Params,
    Sts,
    Multipart,
    Upload,
    Batch,
    Complete,
    Part,
}

fn shape(tail: &[&str]) -> Option<Shape> {
    Some(match tail {
        ["params"] => Shape::Params,
        ["sts"] => Shape::Sts,
        ["multipart"] => Shape::Multipart,
        ["multipart", _] => Shape::Upload,
        ["multipart", _, "batch"] => Shape::Batch,
        ["multipart", _, "complete"] => Shape::Complete,
        ["multipart", _, _] => Shape::Part,
        _ => return None,
    })
}

fn route(method: &Method, shape: Shape, tail: &[&str]) -> Result<Route, ApiError> {
    let upload_id = || tail.get(1).map_or(Ok(String::new()), |s| decoded(s));
    Ok(match (shape, method.as_str()) {
        (Shape::Params, "GET") => Route::Params,
        (Shape::Sts, "GET") => Route::Sts,
        (Shape::Multipart, "POST") => Route::Create,
        (Shape::Upload, "GET") => Route::List {
            upload_id: upload_id()?,
        },
        (Shape::Upload, "DELETE") => Route::Abort {
            upload_id: upload_id()?,
        },
        (Shape::Batch, "GET") => Route::Batch {
            upload_id: upload_id()?,
        },
        (Shape::Complete, "POST") => Route::Complete {
            upload_id: upload_id()?,
        },
        (Shape::Part, "GET") => Route::Part {
            upload_id: upload_id()?,
            part_number: part_number(tail[2])?,
        },
        (_, other) => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{other} is not a method of this Companion route"),
            ));
        }
    })
}

/// A path segment, percent-decoded strictly (`+` kept), as UTF-8.
fn decoded(segment: &str) -> Result<String, ApiError> {
    percent_decode(segment.as_bytes(), Decoding::Strict)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidRequest",
                "a path segment has a malformed percent-escape or is not UTF-8",
            )
        })
}

/// A part number in a path: decimal digits only, 1 to 10000.
fn part_number(segment: &str) -> Result<u32, ApiError> {
    let digits =
        !segment.is_empty() && segment.len() <= 5 && segment.bytes().all(|b| b.is_ascii_digit());
    match digits.then(|| segment.parse::<u32>()) {
        Some(Ok(n @ 1..=10_000)) => Ok(n),
        _ => Err(ApiError::bad_request(
            "InvalidPartNumber",
            "the part number must be from 1 to 10000",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(method: Method, path: &str) -> Found {
        find(&method, path)
            .unwrap_or_else(|| panic!("{path}: not a Companion route"))
            .unwrap_or_else(|e| panic!("{path}: refused {}", e.code))
    }

    fn refused(method: Method, path: &str) -> (u16, String) {
        match find(&method, path).expect("a Companion route") {
            Ok(found) => panic!("{path}: accepted {found:?}"),
            Err(e) => (e.status.as_u16(), e.code.into_owned()),
        }
    }

    #[test]
    fn every_companion_route_is_found_by_its_tail() {
        let id = || "0004B98".to_owned();
        let cases = [
            (Method::GET, "/s3/params", Route::Params, None),
            (Method::GET, "/presign/s3/sts", Route::Sts, Some("presign")),
            (
                Method::POST,
                "/api/avatar/s3/multipart",
                Route::Create,
                Some("avatar"),
            ),
            (
                Method::GET,
                "/s3/multipart/0004B98",
                Route::List { upload_id: id() },
                None,
            ),
            (
                Method::DELETE,
                "/s3/multipart/0004B98",
                Route::Abort { upload_id: id() },
                None,
            ),
            (
                Method::GET,
                "/s3/multipart/0004B98/batch",
                Route::Batch { upload_id: id() },
                None,
            ),
            (
                Method::POST,
                "/s3/multipart/0004B98/complete",
                Route::Complete { upload_id: id() },
                None,
            ),
            (
                Method::GET,
                "/s3/multipart/0004B98/7",
                Route::Part {
                    upload_id: id(),
                    part_number: 7,
                },
                None,
            ),
            // The last `s3` whose tail is a route: a profile named s3, a deployment under /s3.
            (Method::GET, "/s3/s3/params", Route::Params, Some("s3")),
        ];
        for (method, path, route, before) in cases {
            assert_eq!(
                found(method, path),
                Found {
                    route,
                    before: before.map(str::to_owned)
                },
                "{path}"
            );
        }
    }

    #[test]
    fn other_paths_are_presign_url_requests() {
        for path in [
            "/",
            "/presign",
            "/s3",
            "/s3/",
            "/s3/upload",
            "/s3/multipart/a/b/c",
            "/s3/params/x",
            "/s3x/params",
        ] {
            assert!(find(&Method::GET, path).is_none(), "{path}");
        }
    }

    #[test]
    fn hostile_paths_are_refused_or_kept_as_written() {
        for (method, path, status, code) in [
            (Method::PUT, "/s3/params", 405, "MethodNotAllowed"),
            (Method::GET, "/s3/multipart", 405, "MethodNotAllowed"),
            (
                Method::DELETE,
                "/s3/multipart/u/complete",
                405,
                "MethodNotAllowed",
            ),
            (Method::GET, "/s3/multipart/u/0", 400, "InvalidPartNumber"),
            (
                Method::GET,
                "/s3/multipart/u/10001",
                400,
                "InvalidPartNumber",
            ),
            (Method::GET, "/s3/multipart/u/-1", 400, "InvalidPartNumber"),
            (Method::GET, "/s3/multipart/u/1e3", 400, "InvalidPartNumber"),
            (Method::GET, "/s3/multipart/u/%31", 400, "InvalidPartNumber"),
            (
                Method::GET,
                "/s3/multipart/u/000000001",
                400,
                "InvalidPartNumber",
            ),
            (Method::GET, "/s3/multipart/%zz", 400, "InvalidRequest"),
            (Method::GET, "/s3/multipart/%ff", 400, "InvalidRequest"),
            (Method::GET, "/%e2%82/s3/params", 400, "InvalidRequest"),
        ] {
            assert_eq!(refused(method, path), (status, code.to_owned()), "{path}");
        }
        // An encoded `/` or `?` stays inside the upload id, which the request's own checks
        // then refuse (`uploadId holds only letters, digits and ._-`).
        assert_eq!(
            found(Method::GET, "/s3/multipart/a%2F..%2Fb%3Fx").route,
            Route::List {
                upload_id: "a/../b?x".to_owned()
            }
        );
    }
}
