//! Alibaba Cloud's credentials URI (`ALIBABA_CLOUD_CREDENTIALS_URI`): a plain `GET` of the URI
//! as configured, answered with the ECS metadata service's JSON; the request built without
//! I/O, and one fetch through the one sender.
//!
//! # Reference
//! aliyun/credentials-python `provider/uri.py`.

use std::sync::Arc;

use super::{CredentialSource, check_url, send};
use crate::Credential;
use crate::Error;
use crate::keyless::answer;
use crate::transport::{HttpSender, SignedRequest};

/// The source for `ALIBABA_CLOUD_CREDENTIALS_URI`'s value, an http(s) URL.
pub(crate) fn aliyun(uri: String) -> Result<CredentialSource, Error> {
    check_url("ALIBABA_CLOUD_CREDENTIALS_URI", &uri)?;
    Ok(CredentialSource::AliyunCredentialsUri { uri })
}

/// The credentials URI request: a plain `GET` of the URI as configured.
pub(crate) fn uri_request(uri: &str) -> SignedRequest {
    answer::get(uri.to_owned(), Vec::new())
}

/// The URI's credentials; its answer must say `"Code":"Success"`, as the official SDKs require.
pub(crate) async fn fetch(
    uri: &str,
    sender: &Arc<dyn HttpSender>,
    name: &'static str,
) -> Result<Credential, Error> {
    let reply = send(sender, uri_request(uri), name).await?;
    answer::parse(reply.status, &reply.body, name, answer::ALIYUN)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    #[test]
    fn the_uri_is_asked_as_configured() {
        let request = uri_request("http://127.0.0.1:9/credentials?role=uploader");
        assert_eq!(request.method, Method::GET);
        assert_eq!(request.url, "http://127.0.0.1:9/credentials?role=uploader");
        assert!(request.headers.is_empty());
        assert!(aliyun("ftp://x".to_owned()).is_err());
    }
}
