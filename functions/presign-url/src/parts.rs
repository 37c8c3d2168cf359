//! Batch part signing: `partNumbers` with `uploadId` and `method: "PUT"`, one answer with a
//! URL and the headers to send for each part (`"Parts":[{"PartNumber":1,"URL":…,"Headers":{…}},
//! …]`), up to [`MAX_PARTS_PER_CALL`] a call, signed together by
//! [`Presigner::part_urls`](stsvend::sign::Presigner::part_urls).

use std::time::{Duration, SystemTime};

use lambda_http::Body;
use lambda_http::http::{Response, StatusCode};
use serde_json::{Map, Value};
use stsvend::{Credential, format_iso8601, sign::ObjectRequest, sign::Presigner};
use stsvend_host::response::{self, ApiError};

use crate::answer::{Expiry, Ordered, Part, PartsAnswer};

/// The most parts one call signs (an upload may have [`MAX_PART_NUMBER`]).
pub(crate) const MAX_PARTS_PER_CALL: u64 = 1_000;

/// The highest part number OSS and S3 accept: 10,000 parts per upload.
pub(crate) const MAX_PART_NUMBER: u64 = 10_000;

/// Reads `partNumbers`: a JSON list of part numbers (`[1,2,5]`) or a range
/// (`{"first":1,"count":1000}`); in a query string, the same JSON text. The numbers come back
/// sorted; each is 1 to 10,000 and named once, and there are 1 to 1,000 of them.
pub(crate) fn part_numbers(value: Value, from_query: bool) -> Result<Vec<u32>, ApiError> {
    let value = match value {
        Value::String(text) if from_query => serde_json::from_str(&text).unwrap_or(Value::Null),
        other => other,
    };
    let numbers = match value {
        Value::Array(items) => {
            within_call(items.len() as u64)?;
            items
                .iter()
                .map(|item| item.as_u64().ok_or_else(malformed).and_then(in_range))
                .collect::<Result<Vec<u32>, ApiError>>()?
        }
        Value::Object(range) => range_numbers(&range)?,
        _ => return Err(malformed()),
    };
    sorted_once(numbers)
}

/// The numbers of `{"first":N,"count":M}`.
fn range_numbers(range: &Map<String, Value>) -> Result<Vec<u32>, ApiError> {
    let member = |name: &str| range.get(name).and_then(Value::as_u64);
    let (Some(first), Some(count), 2) = (member("first"), member("count"), range.len()) else {
        return Err(malformed());
    };
    within_call(count)?;
    let last = first.saturating_add(count).saturating_sub(1);
    in_range(first)?;
    in_range(last)?;
    Ok((first..=last)
        .filter_map(|n| u32::try_from(n).ok())
        .collect())
}

/// The numbers sorted, refusing an empty list and a number named twice.
fn sorted_once(mut numbers: Vec<u32>) -> Result<Vec<u32>, ApiError> {
    numbers.sort_unstable();
    if numbers.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidPartNumber",
            "partNumbers must name at least one part",
        ));
    }
    if let Some(pair) = numbers.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(ApiError::bad_request(
            "DuplicatePartNumber",
            format!("part {} is named more than once in partNumbers", pair[0]),
        ));
    }
    Ok(numbers)
}

fn malformed() -> ApiError {
    ApiError::bad_request(
        "InvalidPartNumber",
        r#"partNumbers must be a list of part numbers ([1,2,3]) or a range ({"first":1,"count":1000})"#,
    )
}

fn in_range(number: u64) -> Result<u32, ApiError> {
    match u32::try_from(number) {
        Ok(n) if (1..=MAX_PART_NUMBER).contains(&number) => Ok(n),
        _ => Err(ApiError::bad_request(
            "InvalidPartNumber",
            format!("part numbers are 1 to {MAX_PART_NUMBER}; {number} is not"),
        )),
    }
}

fn within_call(count: u64) -> Result<(), ApiError> {
    if count > MAX_PARTS_PER_CALL {
        return Err(ApiError::bad_request(
            "TooManyParts",
            format!(
                "at most {MAX_PARTS_PER_CALL} parts per call ({count} asked); an upload may have up to {MAX_PART_NUMBER} parts, so ask again for the rest"
            ),
        ));
    }
    Ok(())
}

/// The parts of one upload to sign, and what each part's request carries.
pub(crate) struct Batch<'a> {
    pub(crate) key: &'a str,
    pub(crate) upload_id: &'a str,
    pub(crate) part_numbers: &'a [u32],
    /// The headers every part signs, which the client must send as given.
    pub(crate) headers: Vec<(String, String)>,
    /// The upload profile, named in the answer.
    pub(crate) profile: &'a str,
}

/// The answer for `batch`, signed with `credential` at `now`, expiring as `expiry` says.
pub(crate) fn answer(
    presigner: &Presigner,
    batch: &Batch<'_>,
    credential: &Credential,
    now: SystemTime,
    expiry: Expiry,
) -> Response<Body> {
    let expires_in = Duration::from_secs(expiry.expires_in);
    let parts = urls(presigner, batch, credential, now, expiry)
        .into_iter()
        .map(|(part_number, url)| Part {
            part_number,
            url,
            headers: Ordered(&batch.headers),
        })
        .collect();
    let answer = PartsAnswer {
        status_code: 200,
        method: "PUT",
        parts,
        expiration: format_iso8601(now + expires_in),
        expires_in: expiry.expires_in,
        expires_capped_by: expiry.capped_by,
        profile: batch.profile,
    };
    response::json(StatusCode::OK, &answer)
}

/// Each part of `batch` with its URL, in part-number order.
pub(crate) fn urls(
    presigner: &Presigner,
    batch: &Batch<'_>,
    credential: &Credential,
    now: SystemTime,
    expiry: Expiry,
) -> Vec<(u32, String)> {
    let headers: Vec<(&str, &str)> = batch
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = ObjectRequest {
        method: "PUT",
        bucket: presigner.bucket(),
        key: batch.key,
        query: &[("uploadId", batch.upload_id)],
        headers: &headers,
    };
    let expires_in = Duration::from_secs(expiry.expires_in);
    let urls = presigner.part_urls(credential, request, batch.part_numbers, now, expires_in);
    batch
        .part_numbers
        .iter()
        .zip(urls)
        .map(|(&part_number, url)| (part_number, url.url))
        .collect()
}

#[cfg(test)]
mod tests {

    use crate::request::{Operation, parse_json, parse_query};

    fn refusal(body: &str) -> (String, String) {
        match parse_json(body.as_bytes()) {
            Ok(ask) => panic!("accepted: {ask:?}"),
            Err(e) => {
                assert_eq!(e.status, 400, "{body}");
                (e.code.into_owned(), e.message)
            }
        }
    }

    fn numbers_of(body: &str) -> Vec<u32> {
        match parse_json(body.as_bytes()).expect(body).operation {
            Operation::Parts {
                upload_id,
                part_numbers,
            } => {
                assert_eq!(upload_id, "U1");
                part_numbers
            }
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_list_or_a_range_names_the_parts_in_order() {
        assert_eq!(
            numbers_of(r#"{"key":"k","method":"PUT","uploadId":"U1","partNumbers":[3,1,10000,2]}"#),
            [1, 2, 3, 10_000]
        );
        assert_eq!(
            numbers_of(
                r#"{"key":"k","method":"put","uploadId":"U1","partNumbers":{"first":9001,"count":1000}}"#
            ),
            (9001..=10_000).collect::<Vec<u32>>()
        );
        assert_eq!(
            numbers_of(
                r#"{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{"count":2,"first":5}}"#
            ),
            [5, 6]
        );
        let from_query = parse_query(
            "key=k&method=PUT&uploadId=U1&partNumbers=%7B%22first%22%3A4%2C%22count%22%3A2%7D",
        )
        .expect("query");
        let from_list =
            parse_query("key=k&method=PUT&uploadId=U1&partNumbers=%5B5%2C4%5D").expect("query");
        let from_body =
            parse_json(br#"{"key":"k","method":"PUT","uploadId":"U1","partNumbers":[4,5]}"#)
                .expect("body");
        assert_eq!(from_query, from_body);
        assert_eq!(from_list, from_body);
        assert_eq!(from_body.operation.http_method(), "PUT");
        assert_eq!(from_body.operation.permission(), "PUT");
        assert_eq!(from_body.operation.query(), [("uploadId", "U1".to_owned())]);
    }

    #[test]
    fn more_than_a_thousand_parts_are_refused_with_the_limit_named() {
        let list: Vec<u32> = (1..=1001).collect();
        for body in [
            format!(r#"{{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{list:?}}}"#),
            r#"{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{"first":1,"count":1001}}"#.to_owned(),
            r#"{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{"first":1,"count":18446744073709551615}}"#.to_owned(),
        ] {
            let (code, message) = refusal(&body);
            assert_eq!(code, "TooManyParts");
            assert!(message.contains("at most 1000 parts per call"), "{message}");
            assert!(message.contains("10000"), "{message}");
        }
        let thousand: Vec<u32> = (1..=1000).collect();
        let body =
            format!(r#"{{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{thousand:?}}}"#);
        assert_eq!(numbers_of(&body).len(), 1000);
    }

    #[test]
    fn each_wrong_part_list_has_its_own_code() {
        let cases = [
            (r#"[1,2,1]"#, "DuplicatePartNumber"),
            (r#"[]"#, "InvalidPartNumber"),
            (r#"[0]"#, "InvalidPartNumber"),
            (r#"[10001]"#, "InvalidPartNumber"),
            (r#"[4294967297]"#, "InvalidPartNumber"),
            (r#"[-1]"#, "InvalidPartNumber"),
            (r#"[1.5]"#, "InvalidPartNumber"),
            (r#"["1"]"#, "InvalidPartNumber"),
            (r#""[1]""#, "InvalidPartNumber"),
            (r#"7"#, "InvalidPartNumber"),
            (r#"{"first":0,"count":2}"#, "InvalidPartNumber"),
            (r#"{"first":9999,"count":3}"#, "InvalidPartNumber"),
            (r#"{"first":1,"count":0}"#, "InvalidPartNumber"),
            (r#"{"first":1}"#, "InvalidPartNumber"),
            (r#"{"first":1,"count":2,"step":2}"#, "InvalidPartNumber"),
        ];
        for (numbers, expected) in cases {
            let body =
                format!(r#"{{"key":"k","method":"PUT","uploadId":"U1","partNumbers":{numbers}}}"#);
            assert_eq!(refusal(&body).0, expected, "{numbers}");
        }
        assert_eq!(
            parse_query("key=k&method=PUT&uploadId=U1&partNumbers=1,2").map_err(|e| e.code),
            Err("InvalidPartNumber".into())
        );
    }

    #[test]
    fn part_numbers_go_with_put_and_an_upload_id_alone() {
        for body in [
            r#"{"key":"k","uploadId":"U1","partNumbers":[1]}"#,
            r#"{"key":"k","method":"GET","uploadId":"U1","partNumbers":[1]}"#,
            r#"{"key":"k","method":"PUT","partNumbers":[1]}"#,
            r#"{"key":"k","method":"PUT","uploadId":"U1","partNumber":1,"partNumbers":[2]}"#,
            r#"{"key":"k","multipart":"complete","uploadId":"U1","partNumbers":[1]}"#,
        ] {
            assert_eq!(refusal(body).0, "InvalidMultipart", "{body}");
        }
    }

    #[test]
    fn a_batch_signs_no_md5_length_or_type_since_each_part_has_its_own() {
        for (field, value) in [
            ("contentMd5", r#""1B2M2Y8AsgTpgAmY7PhCfg==""#),
            ("contentLength", "8388608"),
            ("contentType", r#""video/mp4""#),
        ] {
            let body = format!(
                r#"{{"key":"k","method":"PUT","uploadId":"U1","partNumbers":[1,2],"{field}":{value}}}"#
            );
            let (code, message) = refusal(&body);
            assert_eq!(code, "FieldNotApplicable", "{field}");
            assert!(message.contains("batch of part uploads"), "{message}");
        }
    }
}
