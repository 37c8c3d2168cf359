//! The one shape a signed request takes, whoever sends it: the host's transport sends it as
//! is; the signing code only builds it.

/// A fully signed HTTP request, ready to send as is.
///
/// `Debug` shows the method, the URL and the header names only: bodies and header values
/// carry signatures and security tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The HTTP method; it was part of what was signed.
    pub method: http::Method,
    /// The full URL.
    pub url: String,
    /// Headers to send, in order.
    pub headers: Vec<(http::HeaderName, String)>,
    /// The body to send.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}
