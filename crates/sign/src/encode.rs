//! The named percent-encode sets of the wire formats stsvend signs.
//!
//! Each set is defined once here and tested with a table; signing code names the set it
//! needs instead of encoding by hand.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 3986 `unreserved` kept, everything else `%XX` with upper-case hex.
///
/// Used by the Alibaba Cloud RPC signature (`percentEncode`), by OSS V4 `UriEncode` of query
/// keys and values, and by SigV4 for query strings. `' '` is `%20` (never `+`), `'*'` is
/// `%2A`, `'~'` stays.
pub const RFC3986_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// [`RFC3986_UNRESERVED`] that also keeps `/`: object keys in URL paths and in the OSS V4 /
/// S3 canonical URI.
pub const RFC3986_PATH: &AsciiSet = &RFC3986_UNRESERVED.remove(b'/');

/// Percent-encodes `s` with `set`.
pub fn percent_encode(s: &str, set: &'static AsciiSet) -> String {
    let mut out = String::with_capacity(encoded_len_hint(s));
    percent_encode_into(&mut out, s, set);
    out
}

/// [`percent_encode`] appended to `out`: runs of kept bytes are copied whole, without `fmt`
/// and without a `String` per call.
pub(crate) fn percent_encode_into(out: &mut String, s: &str, set: &'static AsciiSet) {
    for chunk in utf8_percent_encode(s, set) {
        out.push_str(chunk);
    }
}

/// A capacity that holds `s` encoded without growing in the common case (a few escapes).
pub(crate) fn encoded_len_hint(s: &str) -> usize {
    s.len() + s.len() / 4 + 8
}

/// Lower-case hexadecimal, as V4 signatures and hashes are written.
pub fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    hex_lower_into(&mut out, bytes);
    out
}

/// [`hex_lower`] appended to `out`.
pub(crate) fn hex_lower_into(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// How [`percent_decode`] reads text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoding {
    /// A path: `%XX` decoded, `+` kept, a malformed escape refused.
    Strict,
    /// `application/x-www-form-urlencoded` (a query, an S3 event key): also `+` as a space.
    Form,
    /// Best effort, for looking only: a malformed escape kept as it is, `+` kept.
    Lenient,
}

/// `text` with its `%XX` escapes decoded as `how` says; `None` for a malformed escape where
/// `how` refuses one.
pub fn percent_decode(text: &[u8], how: Decoding) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        let escape = (byte == b'%')
            .then(|| tail.get(..2))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit));
        rest = tail;
        match (byte, escape, how) {
            (b'%', Some(hex), _) => {
                let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                bytes.push(digit(hex[0]) << 4 | digit(hex[1]));
                rest = &tail[2..];
            }
            (b'%', None, Decoding::Strict | Decoding::Form) => return None,
            (b'+', _, Decoding::Form) => bytes.push(b' '),
            (other, _, _) => bytes.push(other),
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_reads_paths_forms_and_best_effort_text() {
        let decode = |s: &str, how| {
            percent_decode(s.as_bytes(), how).map(|b| String::from_utf8(b).expect("utf-8"))
        };
        assert_eq!(
            decode("a%20b+c%2B", Decoding::Strict).as_deref(),
            Some("a b+c+")
        );
        assert_eq!(
            decode("a%20b+c%2B", Decoding::Form).as_deref(),
            Some("a b c+")
        );
        assert_eq!(
            decode("a%20b+c%2B", Decoding::Lenient).as_deref(),
            Some("a b+c+")
        );
        for malformed in ["%", "%4", "%zz", "%+1", "a%g0"] {
            assert_eq!(decode(malformed, Decoding::Strict), None, "{malformed}");
            assert_eq!(decode(malformed, Decoding::Form), None, "{malformed}");
        }
        assert_eq!(
            decode("100%zz", Decoding::Lenient).as_deref(),
            Some("100%zz")
        );
    }

    #[test]
    fn unreserved_set_encodes_like_the_rpc_documentation() {
        // ALGORITHMS.md §1.2 and the R3 string to sign.
        let table = [
            ("abcXYZ019", "abcXYZ019"),
            ("-_.~", "-_.~"),
            (" ", "%20"),
            ("*", "%2A"),
            ("+", "%2B"),
            ("/", "%2F"),
            (":", "%3A"),
            ("=", "%3D"),
            ("&", "%26"),
            ("%", "%25"),
            ("!'()", "%21%27%28%29"),
            ("中", "%E4%B8%AD"),
            ("😀", "%F0%9F%98%80"),
            (
                "acs:ram::1234567890123:role/firstrole",
                "acs%3Aram%3A%3A1234567890123%3Arole%2Ffirstrole",
            ),
        ];
        for (raw, encoded) in table {
            assert_eq!(percent_encode(raw, RFC3986_UNRESERVED), encoded, "{raw:?}");
        }
    }

    #[test]
    fn path_set_keeps_slashes_only() {
        // ALGORITHMS.md §3 worked example: key `dir/a b+c~*!'()中.txt`.
        let table = [
            (
                "dir/a b+c~*!'()中.txt",
                "dir/a%20b%2Bc~%2A%21%27%28%29%E4%B8%AD.txt",
            ),
            ("1234+-/123/1.txt", "1234%2B-/123/1.txt"),
            ("a//b/", "a//b/"),
            ("100%", "100%25"),
            ("?#", "%3F%23"),
        ];
        for (raw, encoded) in table {
            assert_eq!(percent_encode(raw, RFC3986_PATH), encoded, "{raw:?}");
        }
    }

    #[test]
    fn encoding_into_a_buffer_appends_what_percent_encode_returns() {
        for raw in [
            "",
            "a b",
            "dir/a b+c~*!'()中.txt",
            "😀%/",
            &"x+/=".repeat(300),
        ] {
            for set in [RFC3986_UNRESERVED, RFC3986_PATH] {
                let mut out = String::from("head&");
                percent_encode_into(&mut out, raw, set);
                let expected = utf8_percent_encode(raw, set).to_string();
                assert_eq!(out, format!("head&{expected}"), "{raw:?}");
                assert_eq!(percent_encode(raw, set), expected, "{raw:?}");
            }
        }
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte() {
        assert_eq!(hex_lower(&[]), "");
        assert_eq!(hex_lower(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
