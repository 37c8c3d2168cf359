//! Uppy Companion's S3 protocol, answered by presign-url: `@uppy/aws-s3` 5's `endpoint` and
//! 6's `companionEndpoint` point at presign-url and keep their code.
//!
//! Each route becomes the presign-url request it is (a form, an initiate, a part, a listing,
//! a completion, an abort), read by the same parser and taken through the same steps
//! (`handler::prepare`: the caller, the prefix, the key, the rules, the credential), so every
//! key lies under the caller's prefix and every rule holds as for any other request. The four
//! routes that change or read an upload (create, list, complete, abort) are then sent to the
//! store by presign-url itself, signed with the caller's credential (with `ROLE_ARN`, temporary
//! keys under the caller's session policy: they can do no more than the caller), through the
//! one transport ([`store`]). Answers and errors take Companion's shapes (`{"error":"…"}`).
//!
//! # Reference
//! Companion 6.2.2, `packages/@uppy/companion/src/server/controllers/s3.ts`.

mod route;
mod store;

use std::time::Instant;

use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use stsvend::sign::{Decoding, percent_decode};
use stsvend::{Provider, format_iso8601, role_session_name};
use stsvend_host::response::{self, ApiError};

pub(crate) use self::route::find;
use self::route::{Found, Route};
use self::store::Call;
use crate::handler::{self, AppState, Prepared};
use crate::request::{self, Ask, Operation};

/// How long the URLs presign-url sends the store itself live: they are sent at once.
const CALL_LIFETIME_SECONDS: u64 = 60;

/// The most ListParts pages read for one upload (10,000 parts, 1,000 a page, with room).
const MAX_PAGES: usize = 20;

/// Answers one Companion request, in Companion's shapes; logged as presign-url's are.
pub(crate) async fn handle(
    state: &AppState,
    request: &Request,
    found: Result<Found, ApiError>,
    started: Instant,
) -> Response<Body> {
    let outcome = match found {
        Ok(found) => answer(state, request, found).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(done) => response::finish(Ok(done), started, "answered Companion"),
        Err(e) => {
            let (status, text) = (e.status, format!("{}: {}", e.code, e.message));
            let logged = response::finish(Err(e), started, "answered Companion");
            let mut answer = response::json(status, &json!({ "error": text }));
            if let Some(retry) = logged.headers().get("retry-after") {
                answer.headers_mut().insert("retry-after", retry.clone());
            }
            answer
        }
    }
}

async fn answer(
    state: &AppState,
    request: &Request,
    found: Found,
) -> Result<(Response<Body>, String), ApiError> {
    let route = found.route;
    let profile = found
        .before
        .filter(|name| state.profiles.iter().any(|p| &p.name == name));
    if route == Route::Sts {
        return sts(state, request, profile.as_deref()).await;
    }
    let query = query(request.uri().query().unwrap_or_default())?;
    let ask = ask(&route, &query, request.body().as_ref(), profile)?;
    let asker = handler::identify(state, request, ask.profile.as_deref()).await?;
    let mut prepared = handler::prepare(state, asker, &ask, Some(&state.companion_key)).await?;
    let who = role_session_name(&prepared.caller.sub);
    let answer = match &route {
        Route::Params => params(state, &prepared, &ask),
        Route::Batch { .. } => batch(state, &prepared, &ask),
        Route::Part { .. } => part(state, &prepared, &ask),
        Route::Create => {
            shorten(&mut prepared);
            create(state, &prepared, &ask).await?
        }
        Route::List { .. } => {
            shorten(&mut prepared);
            list(state, &prepared, &ask).await?
        }
        Route::Complete { .. } => {
            shorten(&mut prepared);
            complete(state, &prepared, &ask, request.body().as_ref()).await?
        }
        Route::Abort { .. } => {
            shorten(&mut prepared);
            abort(state, &prepared, &ask).await?
        }
        Route::Sts => return sts(state, request, None).await,
    };
    Ok((answer, who))
}

/// The URLs presign-url sends itself live a minute (or less, when the credential has less).
fn shorten(prepared: &mut Prepared<'_>) {
    prepared.expiry.expires_in = prepared.expiry.expires_in.min(CALL_LIFETIME_SECONDS);
}

/// A query string's parameters, each once, decoded as browsers encode them (`+` a space);
/// `metadata[NAME]` entries (Companion's per-file metadata) are left out: the uploader's
/// metadata comes from the deployment's rules.
fn query(raw: &str) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |text: &str| {
            percent_decode(text.as_bytes(), Decoding::Form)
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "InvalidRequest",
                        "a query parameter has a malformed percent-escape or is not UTF-8",
                    )
                })
        };
        let name = decode(name)?;
        if name.starts_with("metadata[") {
            continue;
        }
        if fields.contains_key(&name) {
            return Err(ApiError::bad_request(
                "DuplicateField",
                format!("{name} is given more than once"),
            ));
        }
        fields.insert(name, Value::String(decode(value)?));
    }
    Ok(fields)
}

/// The presign-url request a route is, read by presign-url's own parser (so every field is
/// checked as in any request).
fn ask(
    route: &Route,
    query: &Map<String, Value>,
    body: &[u8],
    profile: Option<String>,
) -> Result<Ask, ApiError> {
    let allowed: &[&str] = match route {
        Route::Params => &["filename", "type"],
        Route::Sts | Route::Create => &[],
        Route::Batch { .. } => &["key", "partNumbers"],
        _ => &["key"],
    };
    if let Some(name) = query.keys().find(|name| !allowed.contains(&name.as_str())) {
        return Err(ApiError::bad_request(
            "UnknownField",
            format!("{name:?} is not a parameter of this Companion route"),
        ));
    }
    let text = |name: &str| query.get(name).cloned().unwrap_or(Value::Null);
    let key = || match query.get("key") {
        Some(key) => Ok(key.clone()),
        None => Err(ApiError::bad_request(
            "MissingKey",
            "key is required (a query parameter)",
        )),
    };
    let mut fields = match route {
        Route::Params => {
            json!({"method": "POST", "filename": filename(&text("filename"))?, "contentType": content_type(&text("type"))})
        }
        Route::Sts => return Err(ApiError::bad_request("StsNotSupported", "s3/sts")),
        Route::Create => {
            let body = create_body(body)?;
            json!({"multipart": "initiate", "filename": filename(&body["filename"])?, "contentType": content_type(&body["type"])})
        }
        Route::List { upload_id } => {
            json!({"multipart": "list", "key": key()?, "uploadId": upload_id})
        }
        Route::Abort { upload_id } => {
            json!({"multipart": "abort", "key": key()?, "uploadId": upload_id})
        }
        Route::Complete { upload_id } => {
            json!({"multipart": "complete", "key": key()?, "uploadId": upload_id})
        }
        Route::Part {
            upload_id,
            part_number,
        } => {
            json!({"method": "PUT", "key": key()?, "uploadId": upload_id, "partNumber": part_number})
        }
        Route::Batch { upload_id } => {
            json!({"method": "PUT", "key": key()?, "uploadId": upload_id, "partNumbers": part_numbers(&text("partNumbers"))?})
        }
    };
    if let (Some(profile), Some(object)) = (profile, fields.as_object_mut()) {
        object.insert("profile".to_owned(), Value::String(profile));
    }
    request::parse_json(fields.to_string().as_bytes())
}

/// `filename`: required, as Companion requires it.
fn filename(value: &Value) -> Result<Value, ApiError> {
    match value {
        Value::String(name) if !name.is_empty() => Ok(value.clone()),
        _ => Err(ApiError::bad_request(
            "MissingFilename",
            "filename is required",
        )),
    }
}

/// `type`: the object's type when given (an empty one is none).
fn content_type(value: &Value) -> Value {
    match value {
        Value::String(t) if !t.is_empty() => value.clone(),
        _ => Value::Null,
    }
}

/// `partNumbers=1,2,3`: decimal numbers, as a list for presign-url's own checks (1 to 10000,
/// each once, at most 1,000).
fn part_numbers(value: &Value) -> Result<Value, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "InvalidPartNumber",
            "partNumbers is a comma-separated list of part numbers from 1 to 10000",
        )
    };
    let Value::String(list) = value else {
        return Err(invalid());
    };
    let mut numbers = Vec::new();
    for item in list.split(',') {
        if item.is_empty() || item.len() > 5 || !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        numbers.push(Value::from(item.parse::<u32>().map_err(|_| invalid())?));
        if numbers.len() > 1000 {
            return Err(ApiError::bad_request(
                "TooManyParts",
                "at most 1000 part numbers in one request",
            ));
        }
    }
    Ok(Value::Array(numbers))
}

/// `POST s3/multipart`'s body: `{"filename","type","metadata"}` (metadata left out).
fn create_body(body: &[u8]) -> Result<Value, ApiError> {
    // Read strictly, as presign-url's own bodies: a member named twice is refused, never
    // read as its last value.
    let value = stsvend_host::json::parse(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidRequest",
            format!("the body must be a JSON object: it {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "InvalidRequest",
            "the body must be a JSON object",
        ));
    }
    Ok(value)
}

/// `s3/sts` (`PROVIDER=aws` with `ROLE_ARN`): the caller's temporary credentials, scoped to
/// the caller's prefix by the session policy presign-url's own signing keys carry,
/// `{"credentials":{"AccessKeyId","SecretAccessKey","SessionToken","Expiration"},"bucket","region"}`,
/// never cached. Elsewhere 400, in Companion's words.
async fn sts(
    state: &AppState,
    request: &Request,
    profile: Option<&str>,
) -> Result<(Response<Body>, String), ApiError> {
    let unsupported = || {
        ApiError::bad_request(
            "StsNotSupported",
            "This server does not support STS credentials: sign each request instead (s3/params, s3/multipart)",
        )
    };
    if state.config.provider != Provider::Aws {
        return Err(unsupported());
    }
    let Some((credential, caller)) = handler::caller_credential(state, request, profile).await?
    else {
        return Err(unsupported());
    };
    let body = json!({
        "credentials": {
            "AccessKeyId": credential.access_key_id,
            "SecretAccessKey": credential.secret_access_key(),
            "SessionToken": credential.security_token,
            "Expiration": credential.expiration.map(format_iso8601),
        },
        "bucket": state.presigner.bucket(),
        "region": state.config.bucket_region,
    });
    let mut answer = response::json(StatusCode::OK, &body);
    answer
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    Ok((answer, role_session_name(&caller.sub)))
}

/// `s3/params`: `{"method":"POST","url","fields","expires"}`.
fn params(state: &AppState, prepared: &Prepared<'_>, ask: &Ask) -> Response<Body> {
    let fields = handler::signed_form(state, &prepared.job(ask), false);
    let fields: Map<String, Value> = fields
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    response::json(
        StatusCode::OK,
        &json!({"method": "POST", "url": state.presigner.form_url(), "fields": fields, "expires": prepared.expiry.expires_in}),
    )
}

/// `s3/multipart/UPLOADID/N`: `{"url","expires"}`.
fn part(state: &AppState, prepared: &Prepared<'_>, ask: &Ask) -> Response<Body> {
    let (url, _) = handler::signed_url(state, &prepared.job(ask), &ask.operation, &[]);
    response::json(
        StatusCode::OK,
        &json!({"url": url, "expires": prepared.expiry.expires_in}),
    )
}

/// `s3/multipart/UPLOADID/batch`: `{"presignedUrls":{"1":"…"}}`.
fn batch(state: &AppState, prepared: &Prepared<'_>, ask: &Ask) -> Response<Body> {
    let Operation::Parts {
        upload_id,
        part_numbers,
    } = &ask.operation
    else {
        return response::json(StatusCode::OK, &json!({"presignedUrls": {}}));
    };
    let batch = crate::parts::Batch {
        key: &prepared.key,
        upload_id,
        part_numbers,
        headers: handler::signed_headers(ask),
        profile: &prepared.profile.name,
    };
    let urls = crate::parts::urls(
        &state.presigner,
        &batch,
        &prepared.credential,
        prepared.now,
        prepared.expiry,
    );
    let urls: Map<String, Value> = urls
        .into_iter()
        .map(|(number, url)| (number.to_string(), Value::String(url)))
        .collect();
    response::json(StatusCode::OK, &json!({"presignedUrls": urls}))
}

/// Signs `ask`'s request (with `extra` query parameters) and sends it with `body`.
async fn call(
    state: &AppState,
    prepared: &Prepared<'_>,
    ask: &Ask,
    extra: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<stsvend::HttpReply, ApiError> {
    let (url, headers) = handler::signed_url(state, &prepared.job(ask), &ask.operation, extra);
    let method = Method::from_bytes(ask.operation.http_method().as_bytes()).unwrap_or(Method::GET);
    let call = Call {
        method,
        url,
        headers,
        body,
    };
    store::send(state.sender.as_ref(), call, state.config.sts.timeout).await
}

/// `POST s3/multipart`: CreateMultipartUpload, `{"key","uploadId","bucket"}`.
async fn create(
    state: &AppState,
    prepared: &Prepared<'_>,
    ask: &Ask,
) -> Result<Response<Body>, ApiError> {
    let reply = call(state, prepared, ask, &[], Vec::new()).await?;
    if reply.status != 200 {
        return Err(store::refusal(&reply));
    }
    let upload_id = store::upload_id(&reply.body).ok_or_else(malformed)?;
    Ok(response::json(
        StatusCode::OK,
        &json!({"key": prepared.key, "uploadId": upload_id, "bucket": state.presigner.bucket()}),
    ))
}

/// `GET s3/multipart/UPLOADID`: ListParts, every page, `[{"PartNumber","ETag","Size"}]`.
async fn list(
    state: &AppState,
    prepared: &Prepared<'_>,
    ask: &Ask,
) -> Result<Response<Body>, ApiError> {
    let mut parts = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let extra: Vec<(&'static str, String)> = marker
            .iter()
            .map(|m| ("part-number-marker", m.clone()))
            .collect();
        let reply = call(state, prepared, ask, &extra, Vec::new()).await?;
        if reply.status != 200 {
            return Err(store::refusal(&reply));
        }
        let page = store::parts_page(&reply.body).ok_or_else(malformed)?;
        parts.extend(
            page.parts
                .into_iter()
                .map(|p| json!({"PartNumber": p.number, "ETag": p.etag, "Size": p.size})),
        );
        match page.next {
            Some(next) if marker.as_ref() != Some(&next) => marker = Some(next),
            Some(_) => return Err(malformed()),
            None => return Ok(response::json(StatusCode::OK, &Value::Array(parts))),
        }
    }
    Err(malformed())
}

/// `POST s3/multipart/UPLOADID/complete`: CompleteMultipartUpload with the body's parts,
/// `{"location","key","bucket"}`.
async fn complete(
    state: &AppState,
    prepared: &Prepared<'_>,
    ask: &Ask,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let xml = completion(body)?;
    let reply = call(state, prepared, ask, &[], xml.into_bytes()).await?;
    if reply.status != 200 {
        return Err(store::refusal(&reply));
    }
    // The object's URL: the completion's own, without its query. (With an OSS upload
    // callback, OSS answers with the callback's JSON, so the store's XML is not read.)
    let (url, _) = handler::signed_url(state, &prepared.job(ask), &Operation::Head, &[]);
    let location = url.split('?').next().unwrap_or_default();
    Ok(response::json(
        StatusCode::OK,
        &json!({"location": location, "key": prepared.key, "bucket": state.presigner.bucket()}),
    ))
}

/// `DELETE s3/multipart/UPLOADID`: AbortMultipartUpload, `{}`.
async fn abort(
    state: &AppState,
    prepared: &Prepared<'_>,
    ask: &Ask,
) -> Result<Response<Body>, ApiError> {
    let reply = call(state, prepared, ask, &[], Vec::new()).await?;
    if !matches!(reply.status, 200 | 204) {
        return Err(store::refusal(&reply));
    }
    Ok(response::json(StatusCode::OK, &json!({})))
}

fn malformed() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "StoreUnavailable",
        "the store's answer could not be read",
    )
}

/// The `CompleteMultipartUpload` XML for `{"parts":[{"PartNumber":n,"ETag":"…"}]}`: part
/// numbers 1 to 10000, each once, in order; each ETag printable ASCII of at most 128 bytes.
fn completion(body: &[u8]) -> Result<String, ApiError> {
    let invalid = |message: &str| ApiError::bad_request("InvalidParts", message.to_owned());
    let value = stsvend_host::json::parse(body).map_err(|_| {
        invalid(
            "the body must be {\"parts\":[{\"PartNumber\":n,\"ETag\":\"…\"}]}, each member once",
        )
    })?;
    let Some(list) = value.get("parts").and_then(Value::as_array) else {
        return Err(invalid(
            "the body must be {\"parts\":[{\"PartNumber\":n,\"ETag\":\"…\"}]}",
        ));
    };
    if list.is_empty() || list.len() > 10_000 {
        return Err(invalid("a completion names 1 to 10000 parts"));
    }
    let mut parts = Vec::with_capacity(list.len());
    for part in list {
        let number = part
            .get("PartNumber")
            .and_then(Value::as_u64)
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| invalid("each PartNumber is a whole number from 1 to 10000"))?;
        let etag = part
            .get("ETag")
            .and_then(Value::as_str)
            .filter(|e| {
                !e.is_empty() && e.len() <= 128 && e.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
            .ok_or_else(|| invalid("each ETag is printable ASCII, at most 128 bytes"))?;
        parts.push((number, etag));
    }
    parts.sort_by_key(|(number, _)| *number);
    if parts.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(invalid("a part is named twice"));
    }
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        xml.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
            store::xml_escaped(etag)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    Ok(xml)
}

#[cfg(test)]
mod tests;
