//! The clock, and every wire time format stsvend reads or writes.
//!
//! [`SystemClock`] is the only place in the workspace that reads the system time
//! (`clippy.toml` bans `SystemTime::now` everywhere else). Everything that signs takes the
//! instant as an argument; a handler reads [`Clock::now`] once per request and passes it down.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> SystemTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned reader of the system time
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock stopped at one instant, for tests (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub SystemTime);

#[cfg(any(test, feature = "test-util"))]
impl FixedClock {
    /// A clock stopped at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self(UNIX_EPOCH + Duration::from_secs(secs))
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A UTC calendar instant, split into its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn from_system_time(t: SystemTime) -> Self {
        // Instants before 1970 never occur on the wire; clamp them to the epoch.
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }
}

impl Civil {
    /// Writes the fields `pattern` names into a `String` sized for it: `Y` the year (at least
    /// four digits), `M`, `D`, `h`, `m`, `s` two digits each, any other byte as it is. The
    /// same text as `format!("{:04}…{:02}")`, without `fmt`.
    fn write(&self, pattern: &[u8]) -> String {
        let mut out = String::with_capacity(pattern.len() + 8);
        for &p in pattern {
            match p {
                b'Y' => push_padded(&mut out, self.year, 4),
                b'M' => push_padded(&mut out, i64::from(self.month), 2),
                b'D' => push_padded(&mut out, i64::from(self.day), 2),
                b'h' => push_padded(&mut out, i64::from(self.hour), 2),
                b'm' => push_padded(&mut out, i64::from(self.minute), 2),
                b's' => push_padded(&mut out, i64::from(self.second), 2),
                other => out.push(char::from(other)),
            }
        }
        out
    }
}

/// `n` in decimal, zero-padded to `width` digits (a sign counts toward the width, as
/// `{:0width$}` counts it).
fn push_padded(out: &mut String, n: i64, width: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let sign = usize::from(n < 0);
    if n < 0 {
        out.push('-');
    }
    for _ in (digits.len() - at + sign)..width {
        out.push('0');
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
///
/// # Reference
/// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms", `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// ISO 8601 UTC to the second, as STS writes `Timestamp` and `Expiration`.
///
/// # Format
/// `YYYY-MM-DDThh:mm:ssZ`, e.g. `2015-09-01T05:57:34Z`.
pub fn format_iso8601(t: SystemTime) -> String {
    Civil::from_system_time(t).write(b"Y-M-DTh:m:sZ")
}

/// ISO 8601 UTC with milliseconds, as PostObject policies write `expiration`.
///
/// # Format
/// `YYYY-MM-DDThh:mm:ss.000Z`, e.g. `2023-12-17T03:54:37.000Z`.
pub(crate) fn format_iso8601_millis(t: SystemTime) -> String {
    Civil::from_system_time(t).write(b"Y-M-DTh:m:s.000Z")
}

/// The compact ISO 8601 form used by OSS V4 and SigV4 (`x-oss-date`, `X-Amz-Date`).
///
/// # Format
/// `YYYYMMDDThhmmssZ`, e.g. `20231217T025437Z`.
pub(crate) fn format_compact(t: SystemTime) -> String {
    Civil::from_system_time(t).write(b"YMDThmsZ")
}

/// The date alone, as in a V4 credential scope.
///
/// # Format
/// `YYYYMMDD`, e.g. `20231217`.
pub(crate) fn format_date(t: SystemTime) -> String {
    Civil::from_system_time(t).write(b"YMD")
}

/// The minute in UTC+8 (China Standard Time), as Alibaba Cloud CDN's type B URLs carry it.
///
/// # Format
/// `YYYYMMDDhhmm`, e.g. `201508150800` for 2015-08-15T00:00:00Z.
pub(crate) fn format_utc8_minutes(t: SystemTime) -> String {
    Civil::from_system_time(t + Duration::from_secs(8 * 3600)).write(b"YMDhm")
}

/// Reads an ISO 8601 UTC instant as STS returns `Expiration`.
///
/// Accepts `YYYY-MM-DDThh:mm:ssZ`, optionally with a fraction of a second (`.000Z`), which
/// is dropped: rounding an expiry down never hands out a credential past its life. Anything
/// else (an offset other than `Z`, a space for `T`, a number) is refused with `None`.
pub fn parse_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return None;
    }
    let shape_ok = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    let fraction = &b[19..b.len() - 1];
    let fraction_ok = fraction.is_empty()
        || (fraction.len() >= 2
            && fraction[0] == b'.'
            && fraction[1..].iter().all(u8::is_ascii_digit));
    if !shape_ok || !fraction_ok {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &s[range];
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = u64::try_from(days).ok()? * 86_400
        + u64::from(hour) * 3600
        + u64::from(minute) * 60
        + u64::from(second);
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Whole seconds since the Unix epoch, as OSS V1 writes `Expires`.
pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // Expected strings come from the published vectors that carry both forms
    // (ALGORITHMS.md §3.1: 1702781677 = 20231217T025437Z, 1702785388 = 20231217T035628Z)
    // and from calendar edge cases checked against `date -u -d @N`.
    const TABLE: &[(u64, &str, &str, &str)] = &[
        (0, "1970-01-01T00:00:00Z", "19700101T000000Z", "19700101"),
        (
            1_702_781_677,
            "2023-12-17T02:54:37Z",
            "20231217T025437Z",
            "20231217",
        ),
        (
            1_702_785_388,
            "2023-12-17T03:56:28Z",
            "20231217T035628Z",
            "20231217",
        ),
        (
            1_369_353_600,
            "2013-05-24T00:00:00Z",
            "20130524T000000Z",
            "20130524",
        ),
        (
            951_782_400,
            "2000-02-29T00:00:00Z",
            "20000229T000000Z",
            "20000229",
        ),
        (
            1_709_251_199,
            "2024-02-29T23:59:59Z",
            "20240229T235959Z",
            "20240229",
        ),
        (
            4_102_444_800,
            "2100-01-01T00:00:00Z",
            "21000101T000000Z",
            "21000101",
        ),
    ];

    #[test]
    fn formats_match_the_published_forms() {
        for &(secs, iso, compact, date) in TABLE {
            assert_eq!(format_iso8601(at(secs)), iso, "iso8601 of {secs}");
            assert_eq!(format_compact(at(secs)), compact, "compact of {secs}");
            assert_eq!(format_date(at(secs)), date, "date of {secs}");
            assert_eq!(
                format_iso8601_millis(at(secs)),
                iso.replace('Z', ".000Z"),
                "millis of {secs}"
            );
        }
    }

    #[test]
    fn formats_write_what_fmt_writes_for_every_field_width() {
        let numbers = [
            0, 1, 9, 10, 59, 99, 100, 999, 1000, 2023, 9999, 10_000, 275_760,
        ];
        for n in numbers.into_iter().chain(numbers.map(|n: i64| -n)) {
            for width in [2, 4] {
                let mut out = String::new();
                push_padded(&mut out, n, width);
                assert_eq!(out, format!("{n:0width$}"), "{n} in {width}");
            }
        }
        // Every second of a leap day and of a new year's eve, and a far year.
        for secs in (951_782_400..951_782_400 + 86_400)
            .step_by(7)
            .chain(4_102_444_700..4_102_444_900)
            .chain([253_402_300_800, 8_639_977_881_599])
        {
            let c = Civil::from_system_time(at(secs));
            assert_eq!(
                format_iso8601(at(secs)),
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    c.year, c.month, c.day, c.hour, c.minute, c.second
                )
            );
            assert_eq!(
                format_compact(at(secs)),
                format!(
                    "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                    c.year, c.month, c.day, c.hour, c.minute, c.second
                )
            );
        }
    }

    #[test]
    fn parse_reads_what_format_writes_and_sts_sends() {
        for &(secs, iso, _, _) in TABLE {
            assert_eq!(parse_iso8601(iso), Some(at(secs)), "parse {iso}");
        }
        // The STS documentation sample.
        assert_eq!(
            parse_iso8601("2015-04-09T11:52:19Z"),
            Some(at(1_428_580_339))
        );
        // A fraction is dropped (rounded down).
        assert_eq!(
            parse_iso8601("2015-04-09T11:52:19.999Z"),
            Some(at(1_428_580_339))
        );
    }

    #[test]
    fn parse_refuses_every_other_shape() {
        for bad in [
            "",
            "2015-04-09T11:52:19",
            "2015-04-09 11:52:19Z",
            "2015-04-09T11:52:19+08:00",
            "2015-04-09T11:52:19.Z",
            "2015-13-09T11:52:19Z",
            "2015-02-29T11:52:19Z",
            "2015-04-31T11:52:19Z",
            "2015-04-09T24:00:00Z",
            "1428580339",
            "2015-04-09T11:5a:19Z",
            "+015-04-09T11:52:19Z",
            "２015-04-09T11:52:19Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn fixed_clock_reports_its_instant() {
        assert_eq!(
            unix_seconds(FixedClock::at_unix(1_699_807_420).now()),
            1_699_807_420
        );
    }
}
