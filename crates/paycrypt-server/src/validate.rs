//! Input validation of request members against the service model (AWS-API.md §2.3–2.6):
//! types, required members, lengths, patterns, enum values, unions ("exactly one member") and
//! unknown members. Every failure is a `ValidationException` that names the member by its path
//! (e.g. `KeyAttributes.KeyModesOfUse.Encrypt`) and never repeats the value (values may be key
//! material, PINs or PANs).
//!
//! Usage: wrap the body with [`Input::root`], read each member once with the typed getters, then
//! call [`Input::finish`], which refuses any member that was not read.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object being read member by member.
#[derive(Debug)]
pub struct Input<'a> {
    path: String,
    map: &'a Map<String, Value>,
    read: Vec<&'static str>,
}

/// A map member: its path and its entries.
pub type MapMember<'a> = (String, &'a Map<String, Value>);

/// A string shape: length bounds (characters) and a pattern check.
#[derive(Debug, Clone, Copy)]
pub struct StrShape {
    /// Minimum length.
    pub min: usize,
    /// Maximum length.
    pub max: usize,
    /// The pattern as the model writes it (for the message).
    pub pattern: &'static str,
    /// The pattern check.
    pub check: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

/// `(?:[0-9a-fA-F][0-9a-fA-F])+`.
pub fn is_even_hex(s: &str) -> bool {
    !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_iv(s: &str) -> bool {
    (s.len() == 16 || s.len() == 32) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_identifier(s: &str) -> bool {
    paycrypt_keystore::validate::parse_identifier(s).is_ok()
}

fn is_key_arn(s: &str) -> bool {
    paycrypt_keystore::validate::check_key_arn("KeyArn", s).is_ok()
}

fn is_alias_name(s: &str) -> bool {
    paycrypt_keystore::validate::check_alias_name(s).is_ok()
}

/// Free-form string of the given bounds.
pub const fn text(min: usize, max: usize) -> StrShape {
    StrShape {
        min,
        max,
        pattern: "",
        check: any,
    }
}

/// `KeyArnOrKeyAliasType`.
pub const KEY_IDENTIFIER: StrShape = StrShape {
    min: 7,
    max: 322,
    pattern: "arn:aws:payment-cryptography:<region>:<account>:(key/<id>|alias/<name>) or alias/[a-zA-Z0-9/_-]+",
    check: is_identifier,
};
/// `KeyArn` / `ResourceArn`.
pub const KEY_ARN: StrShape = StrShape {
    min: 70,
    max: 150,
    pattern:
        "arn:aws:payment-cryptography:[a-z]{2}-[a-z]{1,16}-[0-9]+:[0-9]{12}:key/[0-9a-zA-Z]{16,64}",
    check: is_key_arn,
};
/// `AliasName`.
pub const ALIAS_NAME: StrShape = StrShape {
    min: 7,
    max: 256,
    pattern: "alias/[a-zA-Z0-9/_-]+",
    check: is_alias_name,
};
/// `NextToken`.
pub const NEXT_TOKEN: StrShape = text(1, 8192);
/// `PlainTextType`.
pub const PLAIN_TEXT: StrShape = even_hex(2, 4096);
/// `CipherTextType`.
pub const CIPHER_TEXT: StrShape = even_hex(2, 4224);
/// `MessageDataType`.
pub const MESSAGE_DATA: StrShape = even_hex(2, 8192);
/// `MacType`.
pub const MAC: StrShape = even_hex(4, 128);
/// `InitializationVectorType`.
pub const IV: StrShape = StrShape {
    min: 16,
    max: 32,
    pattern: "(?:[0-9a-fA-F]{16}|[0-9a-fA-F]{32})",
    check: is_iv,
};

/// An even-length hex shape.
pub const fn even_hex(min: usize, max: usize) -> StrShape {
    StrShape {
        min,
        max,
        pattern: "(?:[0-9a-fA-F][0-9a-fA-F])+",
        check: is_even_hex,
    }
}

fn type_error(path: &str, expected: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must be {expected}"
    ))
}

impl<'a> Input<'a> {
    /// The request body, which must be a JSON object.
    ///
    /// # Errors
    /// `ValidationException` otherwise.
    pub fn root(body: &'a Value) -> Result<Self, ApiError> {
        match body {
            Value::Object(map) => Ok(Self {
                path: String::new(),
                map,
                read: Vec::new(),
            }),
            _ => Err(ApiError::validation(
                "The request body must be a JSON object",
            )),
        }
    }

    /// The path of member `name` (for messages).
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.read.push(name);
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether member `name` is present (does not mark it read).
    pub fn has(&self, name: &str) -> bool {
        !matches!(self.map.get(name), None | Some(Value::Null))
    }

    fn required<T>(&self, name: &str, v: Option<T>) -> Result<T, ApiError> {
        v.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                self.path_of(name)
            ))
        })
    }

    /// An optional string member of shape `shape`.
    ///
    /// # Errors
    /// `ValidationException` for a non-string, a length out of bounds or a pattern mismatch.
    pub fn opt_str(
        &mut self,
        name: &'static str,
        shape: StrShape,
    ) -> Result<Option<&'a str>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        let s = v.as_str().ok_or_else(|| type_error(&path, "a string"))?;
        let n = s.chars().count();
        if n < shape.min || n > shape.max {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length between {} and {}, inclusive",
                shape.min, shape.max
            )));
        }
        if !(shape.check)(s) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                shape.pattern
            )));
        }
        Ok(Some(s))
    }

    /// A required string member.
    ///
    /// # Errors
    /// As [`Input::opt_str`], and when absent.
    pub fn req_str(&mut self, name: &'static str, shape: StrShape) -> Result<&'a str, ApiError> {
        let v = self.opt_str(name, shape)?;
        self.required(name, v)
    }

    /// An optional enum member, parsed with `parse` (the model's wire names).
    ///
    /// # Errors
    /// `ValidationException` for a non-string or a value outside the enum.
    pub fn opt_enum<T>(
        &mut self,
        name: &'static str,
        parse: fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<Option<T>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        let s = v.as_str().ok_or_else(|| type_error(&path, "a string"))?;
        parse(s).map(Some).ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ))
        })
    }

    /// A required enum member.
    ///
    /// # Errors
    /// As [`Input::opt_enum`], and when absent.
    pub fn req_enum<T>(
        &mut self,
        name: &'static str,
        parse: fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<T, ApiError> {
        let v = self.opt_enum(name, parse, allowed)?;
        self.required(name, v)
    }

    /// An optional boolean member.
    ///
    /// # Errors
    /// `ValidationException` for a non-boolean.
    pub fn opt_bool(&mut self, name: &'static str) -> Result<Option<bool>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.as_bool()
            .map(Some)
            .ok_or_else(|| type_error(&self.path_of(name), "a boolean"))
    }

    /// A required boolean member.
    ///
    /// # Errors
    /// As [`Input::opt_bool`], and when absent.
    pub fn req_bool(&mut self, name: &'static str) -> Result<bool, ApiError> {
        let v = self.opt_bool(name)?;
        self.required(name, v)
    }

    /// An optional integer member within `min..=max`.
    ///
    /// # Errors
    /// `ValidationException` for a non-integer or a value out of range.
    pub fn opt_int(
        &mut self,
        name: &'static str,
        min: i64,
        max: i64,
    ) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        let i = v.as_i64().ok_or_else(|| type_error(&path, "an integer"))?;
        if i < min || i > max {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have value between {min} and {max}, inclusive"
            )));
        }
        Ok(Some(i))
    }

    /// An optional structure member.
    ///
    /// # Errors
    /// `ValidationException` for a non-object.
    pub fn opt_obj(&mut self, name: &'static str) -> Result<Option<Input<'a>>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        match v {
            Value::Object(map) => Ok(Some(Input {
                path,
                map,
                read: Vec::new(),
            })),
            _ => Err(type_error(&path, "a structure")),
        }
    }

    /// A required structure member.
    ///
    /// # Errors
    /// As [`Input::opt_obj`], and when absent.
    pub fn req_obj(&mut self, name: &'static str) -> Result<Input<'a>, ApiError> {
        let v = self.opt_obj(name)?;
        self.required(name, v)
    }

    /// An optional list member with `min..=max` elements; returns the elements and their base path.
    ///
    /// # Errors
    /// `ValidationException` for a non-list or a length out of bounds.
    pub fn opt_list(
        &mut self,
        name: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Option<(String, &'a [Value])>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        let list = v.as_array().ok_or_else(|| type_error(&path, "a list"))?;
        if list.len() < min || list.len() > max {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length between {min} and {max}, inclusive"
            )));
        }
        Ok(Some((path, list.as_slice())))
    }

    /// A required union member: exactly one of its members must be set. Returns the member name
    /// and the union as an [`Input`] (read the chosen member from it).
    ///
    /// # Errors
    /// `ValidationException` when absent, not an object, or with zero or several members set.
    pub fn req_union(&mut self, name: &'static str) -> Result<(String, Input<'a>), ApiError> {
        let u = self.req_obj(name)?;
        let set: Vec<&String> = u
            .map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect();
        match set.as_slice() {
            [one] => Ok(((*one).clone(), u)),
            _ => Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have exactly one member set",
                u.path
            ))),
        }
    }

    /// An optional map member (a JSON object with arbitrary keys); returns its path and entries.
    ///
    /// # Errors
    /// `ValidationException` for a non-object.
    pub fn opt_map(&mut self, name: &'static str) -> Result<Option<MapMember<'a>>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let path = self.path_of(name);
        match v {
            Value::Object(map) => Ok(Some((path, map))),
            _ => Err(type_error(&path, "a map")),
        }
    }

    /// Refuse `name` if present, as a member this server does not support yet.
    ///
    /// # Errors
    /// `ValidationException` naming the member.
    pub fn unsupported(&mut self, name: &'static str) -> Result<(), ApiError> {
        if self.get(name).is_some() {
            return Err(ApiError::unsupported(&format!("'{}'", self.path_of(name))));
        }
        Ok(())
    }

    /// Finish reading: any member that was not read is unknown to the operation.
    ///
    /// # Errors
    /// `ValidationException` naming the first unknown member.
    pub fn finish(self) -> Result<(), ApiError> {
        for k in self.map.keys() {
            if !self.read.iter().any(|r| r == k) {
                return Err(ApiError::validation(format!(
                    "Unknown member '{}' in the request",
                    self.path_of(k)
                )));
            }
        }
        Ok(())
    }

    /// The error for a union member the operation does not know: the one `finish` names
    /// (the first member not read), else `Unknown member '<path of member>'`.
    #[must_use]
    pub fn unknown_member(self, member: &str) -> ApiError {
        let path = self.path_of(member);
        match self.finish() {
            Err(e) => e,
            Ok(()) => ApiError::validation(format!("Unknown member '{path}'")),
        }
    }

    /// A view of list element `value` at `path` as a structure.
    ///
    /// # Errors
    /// `ValidationException` for a non-object.
    pub fn element(path: String, value: &'a Value) -> Result<Input<'a>, ApiError> {
        match value {
            Value::Object(map) => Ok(Input {
                path,
                map,
                read: Vec::new(),
            }),
            _ => Err(type_error(&path, "a structure")),
        }
    }
}

/// Check a string list element against `shape`.
///
/// # Errors
/// `ValidationException` naming `path`.
pub fn check_str_element<'v>(
    path: &str,
    v: &'v Value,
    shape: StrShape,
) -> Result<&'v str, ApiError> {
    let s = v.as_str().ok_or_else(|| type_error(path, "a string"))?;
    let n = s.chars().count();
    if n < shape.min || n > shape.max || !(shape.check)(s) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length between {} and {}, inclusive",
            shape.min, shape.max
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_refuses_unknown_members() {
        let v = json!({"AliasName": "alias/x1", "Extra": 1});
        let mut i = Input::root(&v).unwrap();
        assert_eq!(i.req_str("AliasName", ALIAS_NAME).unwrap(), "alias/x1");
        let e = i.finish().unwrap_err();
        assert!(e.message().contains("'Extra'"));
    }

    #[test]
    fn patterns_lengths_and_types() {
        let v = json!({"A": "alias/", "B": 5, "C": "0g", "N": 200, "U": {"X": 1, "Y": 2}});
        let mut i = Input::root(&v).unwrap();
        assert!(i.req_str("A", ALIAS_NAME).is_err());
        assert!(i.opt_bool("B").is_err());
        let e = i.req_str("C", PLAIN_TEXT).unwrap_err();
        assert!(!e.message().contains("0g"));
        assert!(i.opt_int("N", 1, 100).is_err());
        assert!(i.req_union("U").is_err());
        assert!(i
            .req_str("Missing", PLAIN_TEXT)
            .unwrap_err()
            .message()
            .contains("'Missing'"));
    }
}
