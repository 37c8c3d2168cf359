//! Where a bucket's objects are reached: the endpoint, and how URLs name the bucket.

use crate::encode::{RFC3986_PATH, encoded_len_hint, percent_encode_into};

/// How URLs name the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://<bucket>.<endpoint host>/<key>`: `<bucket>.oss-<region>.aliyuncs.com`,
    /// `<bucket>.s3.<region>.amazonaws.com`.
    VirtualHosted,
    /// `<endpoint>/<bucket>/<key>`: IP and `localhost` endpoints, or `PATH_STYLE=true`.
    PathStyle,
    /// `<endpoint>/<key>`: a custom domain (CNAME) bound to the bucket.
    Custom,
}

/// Where the bucket's objects are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    host: String,
    addressing: Addressing,
}

/// How a provider addresses buckets on hosts that are not its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRules {
    /// The provider's own domain (`.aliyuncs.com`, `.amazonaws.com`): virtual-hosted.
    pub own_domain: &'static str,
    /// Any other host: a custom domain bound to the bucket (OSS CNAME), or an S3-compatible
    /// store addressed like S3 (virtual-hosted).
    pub other_hosts: Addressing,
}

/// OSS: `*.aliyuncs.com` is virtual-hosted, another host is a CNAME bound to the bucket.
pub const OSS_HOSTS: HostRules = HostRules {
    own_domain: ".aliyuncs.com",
    other_hosts: Addressing::Custom,
};

/// S3 and S3-compatible stores: virtual-hosted unless path-style is asked for.
pub const S3_HOSTS: HostRules = HostRules {
    own_domain: ".amazonaws.com",
    other_hosts: Addressing::VirtualHosted,
};

impl Endpoint {
    /// An endpoint from its parts.
    pub fn new(scheme: &str, host: &str, addressing: Addressing) -> Self {
        Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            addressing,
        }
    }

    /// A configured endpoint (`BUCKET_ENDPOINT`): `scheme://host[:port]`.
    ///
    /// An IP address or `localhost` is path-style, as is anything when `path_style`; a host
    /// that already starts with `<bucket>.` is used as it is; the provider's own domain is
    /// virtual-hosted; other hosts follow `rules.other_hosts`.
    pub fn parse(
        url: &str,
        bucket: &str,
        path_style: bool,
        rules: HostRules,
    ) -> Result<Self, String> {
        let (scheme, host) = upstream_origin(url)?;
        let name = host_name(host);
        let addressing = if path_style
            || name.eq_ignore_ascii_case("localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
        {
            Addressing::PathStyle
        } else if name.starts_with(&format!("{bucket}.")) {
            Addressing::Custom
        } else if name.ends_with(rules.own_domain) {
            Addressing::VirtualHosted
        } else {
            rules.other_hosts
        };
        Ok(Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            addressing,
        })
    }

    /// How this endpoint names the bucket.
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    /// The URL of `key` in `bucket`, the key percent-encoded (RFC 3986, `/` kept).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let mut url = String::with_capacity(self.object_url_len_hint(bucket, key));
        self.object_url_into(&mut url, bucket, key);
        url
    }

    /// [`Endpoint::object_url`] appended to `out`.
    pub(crate) fn object_url_into(&self, out: &mut String, bucket: &str, key: &str) {
        self.origin_into(out, bucket);
        // The raw path encoded piece by piece: the set works byte by byte, so this is the
        // encoding of the whole path, without building it first.
        out.push('/');
        if self.addressing == Addressing::PathStyle {
            percent_encode_into(out, bucket, RFC3986_PATH);
            out.push('/');
        }
        percent_encode_into(out, key, RFC3986_PATH);
    }

    /// A capacity that holds [`Endpoint::object_url`] of `key` without growing.
    pub(crate) fn object_url_len_hint(&self, bucket: &str, key: &str) -> usize {
        self.scheme.len() + 5 + 2 * bucket.len() + self.host.len() + encoded_len_hint(key)
    }

    /// `scheme://host[:port]` of requests for `bucket`.
    pub fn origin_for(&self, bucket: &str) -> String {
        let mut origin =
            String::with_capacity(self.scheme.len() + 4 + bucket.len() + self.host.len());
        self.origin_into(&mut origin, bucket);
        origin
    }

    fn origin_into(&self, out: &mut String, bucket: &str) {
        out.push_str(&self.scheme);
        out.push_str("://");
        self.host_into(out, bucket);
    }

    /// The `Host` a request for `bucket` carries.
    pub fn host_for(&self, bucket: &str) -> String {
        let mut host = String::with_capacity(bucket.len() + 1 + self.host.len());
        self.host_into(&mut host, bucket);
        host
    }

    fn host_into(&self, out: &mut String, bucket: &str) {
        if self.addressing == Addressing::VirtualHosted {
            out.push_str(bucket);
            out.push('.');
        }
        out.push_str(&self.host);
    }

    /// The raw (not encoded) path of `key` in `bucket` on this endpoint.
    pub fn object_path(&self, bucket: &str, key: &str) -> String {
        let mut path = String::with_capacity(bucket.len() + key.len() + 2);
        self.object_path_into(&mut path, bucket, key);
        path
    }

    fn object_path_into(&self, out: &mut String, bucket: &str, key: &str) {
        out.push('/');
        if self.addressing == Addressing::PathStyle {
            out.push_str(bucket);
            out.push('/');
        }
        out.push_str(key);
    }
}

/// The host without its port (IPv6 literals keep their brackets stripped).
/// Checks an upstream URL (`STS_ENDPOINT`, `BUCKET_ENDPOINT`): `scheme://host[:port]` with no
/// path, `https`, or `http` only where [`plain_http_allowed`]. Returns the scheme and the host.
pub fn upstream_origin(url: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "https" || *s == "http")
        .ok_or_else(|| {
            format!("{url:?} must start with https:// (or http:// for a local stand-in)")
        })?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{url:?} must be a scheme and a host[:port], with no path"
        ));
    }
    if scheme == "http" && !plain_http_allowed(host) {
        return Err(format!(
            "{url:?} must be https:// (http:// only for localhost, a loopback or a private address, such as a local stand-in)"
        ));
    }
    Ok((scheme, host))
}

/// Whether an upstream at `host` (`name[:port]`) may be reached over plain `http://`: only
/// `localhost` and addresses that do not leave the machine or the private network: loopback,
/// private (RFC 1918, IPv6 unique local), link-local, and the shared range 100.64.0.0/10
/// (where Alibaba Cloud's metadata service lives). A DNS name or a public address over plain
/// HTTP can be answered by anyone on the path, with credentials or keys to match.
pub fn plain_http_allowed(host: &str) -> bool {
    let name = host_name(host);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => private_v4(ip),
        Ok(std::net::IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
            }
        },
        Err(_) => false,
    }
}

fn private_v4(ip: std::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b))
}

fn host_name(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_are_the_origin_and_the_encoded_path() {
        let keys = ["k", "", "dir/a b+c~*!'()中.txt", "a//b/", "100%?#", "😀/x"];
        for addressing in [
            Addressing::VirtualHosted,
            Addressing::PathStyle,
            Addressing::Custom,
        ] {
            let endpoint = Endpoint::new("https", "oss-cn-hangzhou.aliyuncs.com:8443", addressing);
            for key in keys {
                let path = crate::encode::percent_encode(
                    &endpoint.object_path("examplebucket", key),
                    RFC3986_PATH,
                );
                assert_eq!(
                    endpoint.object_url("examplebucket", key),
                    format!("{}{path}", endpoint.origin_for("examplebucket")),
                    "{addressing:?} {key:?}"
                );
            }
        }
    }

    #[test]
    fn endpoints_choose_their_addressing() {
        let cases = [
            (
                "https://oss-cn-hangzhou.aliyuncs.com",
                false,
                Addressing::VirtualHosted,
                "https://b1.oss-cn-hangzhou.aliyuncs.com/a%20b/c",
            ),
            (
                "https://oss-cn-hangzhou-internal.aliyuncs.com/",
                false,
                Addressing::VirtualHosted,
                "https://b1.oss-cn-hangzhou-internal.aliyuncs.com/a%20b/c",
            ),
            (
                "https://b1.oss-cn-hangzhou.aliyuncs.com",
                false,
                Addressing::Custom,
                "https://b1.oss-cn-hangzhou.aliyuncs.com/a%20b/c",
            ),
            (
                "https://cdn.example.com",
                false,
                Addressing::Custom,
                "https://cdn.example.com/a%20b/c",
            ),
            (
                "http://127.0.0.1:9000",
                false,
                Addressing::PathStyle,
                "http://127.0.0.1:9000/b1/a%20b/c",
            ),
            (
                "http://localhost:9000",
                false,
                Addressing::PathStyle,
                "http://localhost:9000/b1/a%20b/c",
            ),
            (
                "http://[::1]:9000",
                false,
                Addressing::PathStyle,
                "http://[::1]:9000/b1/a%20b/c",
            ),
            (
                "https://store.example.com",
                true,
                Addressing::PathStyle,
                "https://store.example.com/b1/a%20b/c",
            ),
        ];
        for (url, path_style, addressing, object) in cases {
            let endpoint = Endpoint::parse(url, "b1", path_style, OSS_HOSTS).expect(url);
            assert_eq!(endpoint.addressing(), addressing, "{url}");
            assert_eq!(endpoint.object_url("b1", "a b/c"), object, "{url}");
        }
        assert_eq!(
            Endpoint::new(
                "https",
                "oss-cn-beijing.aliyuncs.com",
                Addressing::VirtualHosted
            )
            .object_url("b1", "k+1"),
            "https://b1.oss-cn-beijing.aliyuncs.com/k%2B1"
        );
        for bad in [
            "oss-cn-hangzhou.aliyuncs.com",
            "ftp://x",
            "https://",
            "https://a.com/path",
            "https://u@a.com",
        ] {
            assert!(
                Endpoint::parse(bad, "b1", false, OSS_HOSTS).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn s3_compatible_hosts_are_virtual_hosted_unless_path_style() {
        let r2 = Endpoint::parse(
            "https://acct.r2.cloudflarestorage.com",
            "b1",
            false,
            S3_HOSTS,
        )
        .expect("r2");
        assert_eq!(
            r2.object_url("b1", "a b"),
            "https://b1.acct.r2.cloudflarestorage.com/a%20b"
        );
        assert_eq!(r2.host_for("b1"), "b1.acct.r2.cloudflarestorage.com");
        let minio =
            Endpoint::parse("https://minio.example.com:9000", "b1", true, S3_HOSTS).expect("minio");
        assert_eq!(
            minio.object_url("b1", "k"),
            "https://minio.example.com:9000/b1/k"
        );
        assert_eq!(minio.host_for("b1"), "minio.example.com:9000");
        assert_eq!(minio.object_path("b1", "a b"), "/b1/a b");
        let local = Endpoint::parse("http://127.0.0.1:8014", "b1", false, S3_HOSTS).expect("local");
        assert_eq!(local.addressing(), Addressing::PathStyle);
    }
}
