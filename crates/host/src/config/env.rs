//! The typed readers every configuration line goes through: one per shape of value (text,
//! choice, whole number in a range, list), each naming its variable in its error. Public, so
//! that each function reads its own settings (`settings.rs` in its crate) the same way.

use std::ops::RangeInclusive;

use stsvend::Error;

/// A configuration error naming `variable`.
pub fn config(variable: &'static str, reason: impl Into<String>) -> Error {
    Error::Config {
        variable,
        reason: reason.into(),
    }
}

/// The variables, read through a lookup. An empty value counts as unset (SAM passes empty
/// optional parameters), except through [`Env::as_set`].
#[derive(Clone, Copy)]
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    /// Reads through `lookup`, which returns a variable's value.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    /// The value, when set and not empty.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// The value as set, empty included: for the variables whose empty value means something.
    pub fn as_set(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The value, or an error saying it is required and what it looks like.
    pub fn required(&self, name: &'static str, hint: &str) -> Result<String, Error> {
        self.text(name).ok_or_else(|| config(name, hint))
    }

    /// One of `choices` by its name, or `default` when unset.
    pub fn choice<T: Copy>(
        &self,
        name: &'static str,
        default: T,
        choices: &[(&str, T)],
    ) -> Result<T, Error> {
        let Some(value) = self.text(name) else {
            return Ok(default);
        };
        match choices.iter().find(|(n, _)| *n == value) {
            Some((_, choice)) => Ok(*choice),
            None => {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                Err(config(name, format!("{value:?} is not {}", one_of(&names))))
            }
        }
    }

    /// Two variables that go together: both values, or `None` when neither is set; one
    /// without the other is an error naming the missing one (`hint` says what it holds).
    pub fn both(
        &self,
        first: &'static str,
        second: &'static str,
        hint: &str,
    ) -> Result<Option<(String, String)>, Error> {
        match (self.text(first), self.text(second)) {
            (None, None) => Ok(None),
            (Some(a), Some(b)) => Ok(Some((a, b))),
            (Some(_), None) => Err(config(second, format!("is required with {first} ({hint})"))),
            (None, Some(_)) => Err(config(first, format!("is required with {second}"))),
        }
    }

    /// `true` or `false`, or `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, Error> {
        self.choice(name, default, &[("true", true), ("false", false)])
    }

    /// A whole number within `range`, or `default` when unset; `what` describes the range for
    /// the error ("a whole number of seconds from 1 to 604800 (7 days)").
    pub fn number(
        &self,
        name: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
        what: &str,
    ) -> Result<u64, Error> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(config(name, format!("{v:?} is not {what}"))),
            },
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A comma list of entries, blanks trimmed and empty entries skipped, each read by `entry`,
/// whose error is reported against `variable`.
pub fn list<T>(
    variable: &'static str,
    list: &str,
    entry: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| entry(e).map_err(|reason| config(variable, reason)))
        .collect()
}

/// A `left/right` or `left/*` entry, lower-cased, each side non-empty and made of bytes
/// `allowed` accepts; `shape` names the form for the error.
pub fn slash_entry(
    entry: &str,
    allowed: impl Fn(u8) -> bool,
    shape: &str,
) -> Result<String, String> {
    let part = |s: &str| !s.is_empty() && s.bytes().all(&allowed);
    let lower = entry.to_ascii_lowercase();
    match lower.split_once('/') {
        Some((left, right)) if part(left) && (right == "*" || part(right)) => Ok(lower),
        _ => Err(format!("{entry:?} is not {shape}")),
    }
}

/// A list of allowed content types (`ALLOWED_CONTENT_TYPES`, a profile's `content_types`):
/// `type/subtype` or `type/*`, each side a token of letters, digits and `!#$^_.+-` (no `&`:
/// under OSS V1 it would join another sub-resource), lower-cased; an error names `variable`.
pub fn content_types(variable: &'static str, value: &str) -> Result<Vec<String>, Error> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$^_.+-".contains(&b);
    list(variable, value, |e| {
        slash_entry(e, token, "type/subtype or type/*")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_listed_in_words() {
        assert_eq!(one_of(&["v4", "v1"]), "v4 or v1");
        assert_eq!(one_of(&["gateway", "jwt", "none"]), "gateway, jwt or none");
    }
}
