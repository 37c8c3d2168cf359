//! presign-url pins a callback; OSS fills it and signs it; record-upload believes it. The
//! callback parameter comes from presign-url's own answer, so the two functions are checked
//! to agree on the template, the tag and the secret.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_http::{Body, Request};
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::Value;
use stsvend::{CannedSender, FixedClock};
use stsvend_host::Config;

/// 2026-11-22T08:53:10Z.
const NOW: u64 = 1_795_337_590;

fn vars(key_file: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "LTAI-test-pinned-key".to_owned(),
        ),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "pinned-secret".to_owned(),
        ),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
        (
            "UPLOAD_CALLBACK_URL",
            "https://api.example.com/record?via=oss".to_owned(),
        ),
        (
            "UPLOAD_CALLBACK_SECRET",
            "pinned-callback-secret-0123456789abcdef".to_owned(),
        ),
        ("OSS_CALLBACK_PUBLIC_KEY_FILE", key_file.to_owned()),
    ])
}

fn config(vars: &HashMap<&'static str, String>) -> Config {
    Config::load(&|k| vars.get(k).cloned()).expect("config")
}

/// Asks presign-url (in process) for `body` and returns the decoded `callback` it pinned.
async fn pinned_callback(vars: &HashMap<&'static str, String>, body: &str) -> Value {
    let state = Arc::new(
        presign_url::AppState::new(
            config(vars),
            Arc::new(FixedClock::at_unix(NOW)),
            CannedSender::answering(500, ""),
        )
        .expect("presign-url"),
    );
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let answer = presign_url::handle(state, request).await;
    let answer: Value = serde_json::from_slice(answer.body().as_ref()).expect("json");
    let callback = match answer["Fields"]["callback"].as_str() {
        Some(field) => field.to_owned(),
        None => {
            let url = answer["URL"].as_str().expect("URL");
            let query = url.split_once('?').expect("query").1;
            let value = query
                .split('&')
                .find_map(|p| p.strip_prefix("callback="))
                .unwrap_or_else(|| panic!("no callback in {url}"));
            percent_decode(value)
        }
    };
    serde_json::from_slice(&BASE64.decode(callback).expect("base64")).expect("callback json")
}

fn percent_decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// What OSS does with a callback body template in JSON mode: each variable becomes a JSON
/// value (strings quoted).
fn fill(template: &str, object: &str) -> String {
    let quoted = |s: &str| serde_json::to_string(s).expect("json string");
    template
        .replace("${bucket}", &quoted("examplebucket"))
        .replace("${object}", &quoted(object))
        .replace("${etag}", &quoted("\"5EB63BBBE01EEED093CB22BB8F5ACDC3\""))
        .replace("${size}", "12")
        .replace("${mimeType}", &quoted("text/plain"))
        .replace("${imageInfo.height}", &quoted(""))
        .replace("${imageInfo.width}", &quoted(""))
        .replace("${imageInfo.format}", &quoted(""))
        .replace("${crc64}", &quoted("4532862479617221271"))
}

fn oss_callback(key: &rsa::RsaPrivateKey, callback: &Value, object: &str) -> Request {
    let body = fill(
        callback["callbackBody"].as_str().expect("callbackBody"),
        object,
    );
    let url = callback["callbackUrl"].as_str().expect("callbackUrl");
    let path_and_query = &url[url.find("/record").expect("path")..];
    let signer = rsa::pkcs1v15::SigningKey::<md5::Md5>::new(key.clone());
    let signature = signer
        .sign(format!("{path_and_query}\n{body}").as_bytes())
        .to_bytes();
    lambda_http::http::Request::builder()
        .method("POST")
        // Behind a gateway stage the function may see another path; OSS signed the URL's.
        .uri(format!("https://gateway.example.com/prod{path_and_query}"))
        .header("authorization", BASE64.encode(signature))
        .header(
            "x-oss-pub-key-url",
            BASE64.encode("https://gosspublic.alicdn.com/callback_pub_key_v1.pem"),
        )
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn presign_urls_pinned_callbacks_are_believed_by_record_upload_and_only_for_their_object() {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 512).expect("key");
    let pem = key
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .expect("pem");
    let key_file =
        std::env::temp_dir().join(format!("pinned-callbacks-{}.pem", std::process::id()));
    std::fs::write(&key_file, pem).expect("write");
    let vars = vars(&key_file.display().to_string());
    let record = Arc::new(
        record_upload::AppState::new(
            config(&vars),
            Arc::new(FixedClock::at_unix(NOW + 60)),
            // The store's HEAD describes the object the callbacks report (and the webhook
            // takes every record).
            CannedSender::answering_with_headers(
                200,
                "{}",
                &[
                    ("content-length", "12"),
                    ("etag", "\"5EB63BBBE01EEED093CB22BB8F5ACDC3\""),
                    ("content-type", "text/plain"),
                ],
            ),
        )
        .expect("record-upload"),
    );
    let asks = [
        (
            r#"{"key":"uploads/anonymous/a b.txt","method":"PUT"}"#,
            "uploads/anonymous/a b.txt",
        ),
        (
            r#"{"key":"uploads/anonymous/f.txt","method":"POST"}"#,
            "uploads/anonymous/f.txt",
        ),
        (
            r#"{"method":"POST","startsWith":true}"#,
            "uploads/anonymous/any name.txt",
        ),
        (
            r#"{"key":"uploads/anonymous/big.bin","multipart":"complete","uploadId":"0004B9894A22E5B1888A1E29F823"}"#,
            "uploads/anonymous/big.bin",
        ),
    ];
    for (ask, object) in asks {
        let callback = pinned_callback(&vars, ask).await;
        assert_eq!(callback["callbackBodyType"], "application/json", "{ask}");
        let answer =
            record_upload::handle(Arc::clone(&record), oss_callback(&key, &callback, object)).await;
        let status = answer.status().as_u16();
        let body: Value = serde_json::from_slice(answer.body().as_ref()).expect("json");
        assert_eq!(status, 200, "{ask}: {body}");
        assert_eq!(body["Key"], object);
        assert_eq!(body["Uploader"]["sub"], "anonymous");
        assert_eq!(body["ETag"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
        // The same callback reporting another object is refused.
        let other = record_upload::handle(
            Arc::clone(&record),
            oss_callback(&key, &callback, "uploads/someone-else/a.txt"),
        )
        .await;
        assert_eq!(other.status().as_u16(), 403, "{ask}");
    }
    // A plain GET URL carries no callback.
    let get_state = Arc::new(
        presign_url::AppState::new(
            config(&vars),
            Arc::new(FixedClock::at_unix(NOW)),
            CannedSender::answering(500, ""),
        )
        .expect("presign"),
    );
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1/")
        .body(Body::from(r#"{"key":"uploads/anonymous/a.txt"}"#))
        .expect("request");
    let answer: Value = serde_json::from_slice(
        presign_url::handle(get_state, request)
            .await
            .body()
            .as_ref(),
    )
    .expect("json");
    assert!(!answer["URL"].as_str().expect("URL").contains("callback="));
    std::fs::remove_file(&key_file).expect("cleanup");
}
