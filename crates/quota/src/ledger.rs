//! The rules every backend applies, without I/O: how an account is named in a store, and
//! what a reservation may take. The SQLite and DynamoDB backends call these inside their
//! transaction; the Redis scripts (`redis.rs`) apply the same rules in Lua, and one test suite
//! (`crates/quota/tests/`) holds all three to them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{Account, Limits, MAX_LIVE_RESERVATIONS, Reserved, Usage};

/// Every byte but RFC 3986 `unreserved` is percent-encoded in an account's name, so the
/// name holds no `/`, `:`, `{`, `}`, NUL or space: the separators the layouts put between
/// its parts cannot occur inside a part.
const NAME_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One text caller-controlled or not, made safe to put between separators: injective (two
/// different texts never encode alike) and free of `/ : { } #` and control bytes.
pub(crate) fn name_part(text: &str) -> String {
    utf8_percent_encode(text, NAME_PART).to_string()
}

/// An account's name in every store: `profile/subject`, each part encoded with
/// [`name_part`], so no subject can name another account (`a/b` under `p` is `p/a%2Fb`,
/// never profile `p/a`, subject `b`).
pub(crate) fn account_id(account: Account<'_>) -> String {
    format!(
        "{}/{}",
        name_part(account.profile),
        name_part(account.subject)
    )
}

/// A reservation's effect, given what the account holds after expired reservations were
/// dropped: `held` is the bytes the same key already reserves (replaced, not added),
/// `recorded` whether the key is already an object (an overwrite adds no file), and `live`
/// how many reservations the account holds. A new key past [`MAX_LIVE_RESERVATIONS`] is
/// refused whatever its size: each reservation costs the store room (DynamoDB keeps them all
/// in one item, bounded at 400 KB), so grants of tiny sizes must not pile up without end.
pub(crate) fn decide_reserve(
    usage: Usage,
    limits: Limits,
    bytes: u64,
    held: Option<u64>,
    recorded: bool,
    live: u64,
) -> Reserved {
    if held.is_none() && live >= MAX_LIVE_RESERVATIONS {
        return Reserved::Exceeded(usage);
    }
    let held_new_file = u64::from(held.is_some() && !recorded);
    let reserved_bytes = usage
        .reserved_bytes
        .saturating_sub(held.unwrap_or(0))
        .saturating_add(bytes);
    let reserved_files = usage.reserved_files.saturating_sub(held_new_file) + u64::from(!recorded);
    let after = Usage {
        reserved_bytes,
        reserved_files,
        ..usage
    };
    let bytes_ok = limits
        .bytes
        .is_none_or(|limit| usage.used_bytes.saturating_add(reserved_bytes) <= limit);
    let files_ok = limits
        .files
        .is_none_or(|limit| usage.files.saturating_add(reserved_files) <= limit);
    if bytes_ok && files_ok {
        Reserved::Granted(after)
    } else {
        Reserved::Exceeded(usage)
    }
}

/// The current fixed window of `per_seconds` at `now`: its number, and the seconds until it
/// ends (at least 1), which a refused caller is told to wait.
pub(crate) fn rate_window(per_seconds: u64, now: u64) -> (u64, u64) {
    let per = per_seconds.max(1);
    let window = now / per;
    let retry_after = ((window + 1) * per).saturating_sub(now).max(1);
    (window, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(profile: &'static str, subject: &'static str) -> String {
        account_id(Account { profile, subject })
    }

    #[test]
    fn no_subject_can_spell_another_accounts_name() {
        assert_ne!(account("p", "a/b"), account("p/a", "b"));
        assert_ne!(account("p", "a%2Fb"), account("p", "a/b"));
        assert_eq!(account("p", "a}b{:\0"), "p/a%7Db%7B%3A%00");
        assert_eq!(account("default", "user-1_x.y~z"), "default/user-1_x.y~z");
    }

    #[test]
    fn a_reservation_that_fits_is_granted_with_its_bytes_and_file() {
        let usage = Usage {
            used_bytes: 5,
            files: 1,
            reserved_bytes: 3,
            reserved_files: 1,
        };
        let limits = Limits {
            bytes: Some(10),
            files: Some(3),
        };
        assert_eq!(
            decide_reserve(usage, limits, 2, None, false, 0),
            Reserved::Granted(Usage {
                used_bytes: 5,
                files: 1,
                reserved_bytes: 5,
                reserved_files: 2
            })
        );
        assert_eq!(
            decide_reserve(usage, limits, 3, None, false, 0),
            Reserved::Exceeded(usage)
        );
    }

    #[test]
    fn a_key_reserved_again_is_replaced_and_an_overwrite_adds_no_file() {
        let usage = Usage {
            used_bytes: 0,
            files: 1,
            reserved_bytes: 4,
            reserved_files: 1,
        };
        let limits = Limits {
            bytes: None,
            files: Some(2),
        };
        let Reserved::Granted(again) = decide_reserve(usage, limits, 6, Some(4), false, 0) else {
            panic!("a key reserved again is refused");
        };
        assert_eq!((again.reserved_bytes, again.reserved_files), (6, 1));
        let Reserved::Granted(over) = decide_reserve(
            Usage {
                reserved_files: 1,
                files: 1,
                ..Usage::default()
            },
            limits,
            1,
            None,
            true,
            0,
        ) else {
            panic!("an overwrite within the files limit is refused");
        };
        assert_eq!(over.reserved_files, 1);
    }

    #[test]
    fn live_reservations_are_capped_per_account_but_a_held_key_is_replaced() {
        let limits = Limits {
            bytes: Some(u64::MAX),
            files: None,
        };
        let usage = Usage::default();
        let cap = MAX_LIVE_RESERVATIONS;
        assert_eq!(cap, 1000, "the documented cap (quota-stores.md)");
        assert!(matches!(
            decide_reserve(usage, limits, 1, None, false, cap - 1),
            Reserved::Granted(_)
        ));
        assert_eq!(
            decide_reserve(usage, limits, 1, None, false, cap),
            Reserved::Exceeded(usage)
        );
        assert_eq!(
            decide_reserve(usage, limits, 0, None, true, cap),
            Reserved::Exceeded(usage)
        );
        assert!(matches!(
            decide_reserve(usage, limits, 1, Some(1), false, cap),
            Reserved::Granted(_)
        ));
    }

    #[test]
    fn rate_windows_end_on_multiples_of_their_length() {
        assert_eq!(rate_window(60, 120), (2, 60));
        assert_eq!(rate_window(60, 179), (2, 1));
        assert_eq!(rate_window(0, 5), (5, 1));
    }
}
