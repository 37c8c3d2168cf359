//! JSON read strictly: an object that names a member twice is refused, at any depth.
//!
//! serde_json keeps the last of two members with one name; other readers keep the first or
//! refuse. A body that one reader takes as `{"object":"uploads/alice/a"}` and another as
//! `{"object":"uploads/bob/b"}` must not be read at all, so callback bodies and events are
//! parsed here (presign-url refuses a repeated field of its requests the same way).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The start of the error message for a repeated member, so [`parse`] can tell it apart.
const REPEATED: &str = "a member is named twice";

/// Why a body is not strict JSON. Neither case quotes the body.
#[derive(Debug)]
pub enum JsonError {
    /// An object names a member twice.
    RepeatedMember,
    /// Not JSON at all, or cut short.
    Invalid(serde_json::Error),
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RepeatedMember => f.write_str("names a member twice in one object"),
            Self::Invalid(e) => f.write_str(&problem(e)),
        }
    }
}

/// Why a body is not the JSON expected, in words that never quote the body (serde's own
/// messages echo values: a log or an answer would carry whatever a sender put there).
pub fn problem(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Syntax => "is not valid JSON",
        serde_json::error::Category::Eof => "ends early",
        serde_json::error::Category::Data => "does not have the expected members and types",
        serde_json::error::Category::Io => "could not be read",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}

/// `bytes` as a JSON value, refusing an object that names a member twice.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|strict| strict.0)
        .map_err(|e| {
            if e.classify() == serde_json::error::Category::Data
                && e.to_string().starts_with(REPEATED)
            {
                JsonError::RepeatedMember
            } else {
                JsonError::Invalid(e)
            }
        })
}

/// A JSON value that deserializes only when no object in it names a member twice: what the
/// Lambda host reads a platform event as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Strict).map(StrictValue)
    }
}

struct Strict;

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if members.insert(name, value).is_some() {
                return Err(de::Error::custom(REPEATED));
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_member_named_twice_is_refused_at_any_depth() {
        for body in [
            r#"{"object":"uploads/alice/a","object":"uploads/bob/b"}"#,
            r#"{"stsvend":{"tag":"a","tag":"b"}}"#,
            r#"{"Records":[{"s3":{"object":{"key":"a","key":"b"}}}]}"#,
            r#"{"a":1,"a":1}"#,
        ] {
            assert!(
                matches!(parse(body.as_bytes()), Err(JsonError::RepeatedMember)),
                "{body}"
            );
        }
    }

    #[test]
    fn json_without_repeats_reads_as_serde_json_reads_it() {
        let body = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"\u00e9\n"}"#;
        let want: Value = serde_json::from_str(body).expect("json");
        assert_eq!(parse(body.as_bytes()).expect("strict"), want);
        assert_eq!(
            parse(br#"{"size":18446744073709551615}"#).expect("u64"),
            json!({"size": u64::MAX})
        );
        assert!(matches!(parse(b"{\"a\":"), Err(JsonError::Invalid(_))));
        assert!(matches!(parse(b"a=b"), Err(JsonError::Invalid(_))));
        // The same name in two objects is no repeat.
        assert!(parse(br#"{"a":{"k":1},"b":{"k":2}}"#).is_ok());
    }
}
