//! Session names: what STS's audit log and the cloud's policy variables see of a caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;

/// The `RoleSessionName` for a caller, so that STS audit logs show who asked.
///
/// `sub` itself when it already fits STS's rules (`[A-Za-z0-9.@_-]`, 2 to 32 characters);
/// otherwise up to 15 of its allowed characters, `-`, and the first 16 characters of the
/// URL-safe base64 of its SHA-256 (96 bits, so that no two callers' names collide by chance
/// or by a search for a collision), which keeps distinct callers distinct and the same caller
/// stable.
///
/// # Reference
/// STS `AssumeRole`, parameter `RoleSessionName`.
pub fn role_session_name(sub: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '_' | '-');
    if (2..=32).contains(&sub.len()) && sub.chars().all(allowed) {
        return sub.to_owned();
    }
    let digest = digest::digest(&digest::SHA256, sub.as_bytes());
    let hash = URL_SAFE_NO_PAD.encode(digest.as_ref());
    let readable: String = sub.chars().filter(|&c| allowed(c)).take(15).collect();
    let readable = if readable.is_empty() {
        "caller"
    } else {
        &readable
    };
    format!("{readable}-{}", &hash[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_keep_fitting_subjects_as_they_are() {
        for sub in [
            "anonymous",
            "alice",
            "ab",
            "user.name@example.com",
            "a_b-c",
            &"x".repeat(32),
        ] {
            assert_eq!(role_session_name(sub), sub);
        }
    }

    #[test]
    fn session_names_shorten_others_stably_and_within_the_rules() {
        let long_uuid = "us-east-1:7b6c9f1e-0000-4bd5-9ad3-5b8ea2e2c2a1";
        let cases = [
            long_uuid,
            "a",
            "auth0|5f7c8ec7c33c6c004bbafe82",
            "用户",
            "",
            &"y".repeat(300),
        ];
        for sub in cases {
            let name = role_session_name(sub);
            assert!((2..=32).contains(&name.len()), "{sub:?} -> {name:?}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".@_-".contains(c)),
                "{sub:?} -> {name:?}"
            );
            assert_eq!(role_session_name(sub), name, "stable");
        }
        // The hash parts: `printf %s SUB | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | cut -c1-16`.
        assert_eq!(
            role_session_name(long_uuid),
            "us-east-17b6c9f-LbSqbD4BgIrDJSPZ"
        );
        assert_eq!(role_session_name("用户"), "caller-DQ4ahrOqeHcJsAMp");
        assert_eq!(role_session_name("a"), "a-ypeBEsobvcr6wjGz");
        assert_ne!(
            role_session_name(&"y".repeat(300)),
            role_session_name(&"y".repeat(301))
        );
    }
}
