//! Content types against a deployment's allowed list (`ALLOWED_CONTENT_TYPES`, a profile's
//! `content_types`): one matching rule for what presign-url signs and what record-upload finds
//! stored.

/// Whether the media type of `content_type` (its parameters aside, case ignored) is what
/// `entry` names: the same `type/subtype`, or any subtype of `type` for `type/*`. `entry` is
/// lower case, as the configuration readers keep it.
#[must_use]
pub fn media_type_matches(entry: &str, content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = media.split('/').next().unwrap_or("");
    entry == media || entry.strip_suffix("/*") == Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_names_one_media_type_or_every_subtype_of_one_type() {
        let cases = [
            ("image/png", "image/png", true),
            ("image/png", "IMAGE/PNG; charset=binary", true),
            ("image/png", " image/png ", true),
            ("image/png", "image/jpeg", false),
            ("image/*", "image/webp", true),
            ("image/*", "imagex/webp", false),
            ("image/*", "text/html", false),
            ("text/plain", "text/plain;charset=utf-8", true),
            ("text/plain", "text/plainx", false),
            ("image/png", "", false),
        ];
        for (entry, content_type, expected) in cases {
            assert_eq!(
                media_type_matches(entry, content_type),
                expected,
                "{entry} ~ {content_type:?}"
            );
        }
    }
}
