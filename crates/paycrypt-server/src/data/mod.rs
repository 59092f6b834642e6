//! The data plane (AWS REST-JSON): a route table from path to handler, one module per resource.
//!
//! Handlers are plain synchronous functions, pure CPU after one [`use_key`] lookup (the store's
//! in-memory `key_for_use`): no database call, no lock held across an await, no
//! `spawn_blocking`.
//!
//! Adding an operation: write `fn op(state, ctx, label, body) -> Result<Value, ApiError>` in the
//! resource's module and put `Some(module::op)` in its [`ROUTES`] row.

pub mod attrs;
pub mod card;
pub mod cryptogram;
pub mod dukpt_cache;
pub mod emv_pin_change;
pub mod encryption;
pub mod key_material;
pub mod mac;
pub mod pin;
pub mod wrapped;

use std::sync::Arc;

use paycrypt_core::asym;
use paycrypt_keystore::LoadedKey;
use serde_json::Value;

use crate::error::ApiError;
use crate::policy::{authorize, KeyUse};
use crate::state::{AppState, Ctx};
use crate::validate::StrShape;

/// A data-plane handler: state, audit context, the decoded path label (if the route has one),
/// the JSON body.
pub type Handler = fn(&AppState, &mut Ctx, Option<&str>, &Value) -> Result<Value, ApiError>;

/// One REST-JSON route: `POST <prefix>{label}<suffix>` or `POST <prefix>`.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// AWS operation name.
    pub operation: &'static str,
    /// Path before the label (or the whole path).
    pub prefix: &'static str,
    /// Path after the label; `None` for routes without a label.
    pub suffix: Option<&'static str>,
    /// The handler; `None` = modeled by AWS but not implemented here yet.
    pub handler: Option<Handler>,
}

/// Every data-plane operation of the AWS model.
pub const ROUTES: &[Route] = &[
    Route {
        operation: "EncryptData",
        prefix: "/keys/",
        suffix: Some("/encrypt"),
        handler: Some(encryption::encrypt_data),
    },
    Route {
        operation: "DecryptData",
        prefix: "/keys/",
        suffix: Some("/decrypt"),
        handler: Some(encryption::decrypt_data),
    },
    Route {
        operation: "ReEncryptData",
        prefix: "/keys/",
        suffix: Some("/reencrypt"),
        handler: Some(encryption::re_encrypt_data),
    },
    Route {
        operation: "GenerateMac",
        prefix: "/mac/generate",
        suffix: None,
        handler: Some(mac::generate_mac),
    },
    Route {
        operation: "VerifyMac",
        prefix: "/mac/verify",
        suffix: None,
        handler: Some(mac::verify_mac),
    },
    Route {
        operation: "GenerateAs2805KekValidation",
        prefix: "/as2805kekvalidation/generate",
        suffix: None,
        handler: None,
    },
    Route {
        operation: "GenerateAuthRequestCryptogram",
        prefix: "/cryptogram/generate",
        suffix: None,
        handler: Some(cryptogram::generate_auth_request_cryptogram),
    },
    Route {
        operation: "VerifyAuthRequestCryptogram",
        prefix: "/cryptogram/verify",
        suffix: None,
        handler: Some(cryptogram::verify_auth_request_cryptogram),
    },
    Route {
        operation: "GenerateCardValidationData",
        prefix: "/cardvalidationdata/generate",
        suffix: None,
        handler: Some(card::generate_card_validation_data),
    },
    Route {
        operation: "VerifyCardValidationData",
        prefix: "/cardvalidationdata/verify",
        suffix: None,
        handler: Some(card::verify_card_validation_data),
    },
    Route {
        operation: "GenerateMacEmvPinChange",
        prefix: "/macemvpinchange/generate",
        suffix: None,
        handler: Some(emv_pin_change::generate_mac_emv_pin_change),
    },
    Route {
        operation: "GeneratePinData",
        prefix: "/pindata/generate",
        suffix: None,
        handler: Some(pin::generate_pin_data),
    },
    Route {
        operation: "VerifyPinData",
        prefix: "/pindata/verify",
        suffix: None,
        handler: Some(pin::verify_pin_data),
    },
    Route {
        operation: "TranslatePinData",
        prefix: "/pindata/translate",
        suffix: None,
        handler: Some(pin::translate_pin_data),
    },
    Route {
        operation: "TranslateKeyMaterial",
        prefix: "/keymaterial/translate",
        suffix: None,
        handler: Some(key_material::translate_key_material),
    },
];

/// Find the route of a raw (percent-encoded) path; returns it and the raw label. Routing is
/// done on the raw path, so an encoded `%2F` inside the label never splits it.
pub fn route(raw_path: &str) -> Option<(&'static Route, Option<&str>)> {
    ROUTES.iter().find_map(|r| match r.suffix {
        None => (raw_path == r.prefix).then_some((r, None)),
        Some(suffix) => {
            let label = raw_path.strip_prefix(r.prefix)?.strip_suffix(suffix)?;
            (!label.is_empty() && !label.contains('/')).then_some((r, Some(label)))
        }
    })
}

/// Run the data-plane route on the JSON `body`.
///
/// # Errors
/// The operation's `ApiError`.
pub fn dispatch(
    state: &Arc<AppState>,
    route: &Route,
    raw_label: Option<&str>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let Some(handler) = route.handler else {
        return Err(ApiError::unsupported(&format!(
            "Operation {}",
            route.operation
        )));
    };
    let label =
        match raw_label {
            None => None,
            Some(raw) => Some(String::from_utf8(crate::auth::percent_decode(raw)).map_err(
                |_| ApiError::validation("The key identifier in the path is not valid UTF-8"),
            )?),
        };
    handler(state, ctx, label.as_deref(), body)
}

/// Check a path label against a string shape (for messages: member `name`).
///
/// # Errors
/// `ValidationException` naming the member.
pub fn check_label<'a>(
    name: &str,
    label: Option<&'a str>,
    shape: StrShape,
) -> Result<&'a str, ApiError> {
    let s = label.ok_or_else(|| ApiError::validation(format!("{name} is required")))?;
    let n = s.chars().count();
    if n < shape.min || n > shape.max || !(shape.check)(s) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
            shape.pattern
        )));
    }
    Ok(s)
}

/// Look up `identifier` for data-plane use (in-memory only), record its ARN, and authorize the
/// use with [`authorize`].
///
/// # Errors
/// `ResourceNotFoundException`, or the policy's `ValidationException`.
pub fn use_key(
    state: &AppState,
    ctx: &mut Ctx,
    identifier: &str,
    operation: KeyUse,
) -> Result<Arc<LoadedKey>, ApiError> {
    let k = state.store.key_for_use(identifier)?;
    ctx.key(&k.key.key_arn);
    authorize(&k.key, operation)?;
    Ok(k)
}

/// Decode hex that the validation layer already checked.
///
/// # Errors
/// `ValidationException` (cannot happen after validation).
pub fn hex(field: &'static str, s: &str) -> Result<Vec<u8>, ApiError> {
    paycrypt_core::hex::decode(field, s).map_err(ApiError::from)
}

/// Most parsed RSA private keys [`rsa_decryption_key`] keeps.
pub const RSA_CACHE_ENTRIES: usize = 64;

type RsaCache = std::collections::HashMap<(Box<str>, [u8; 32]), Arc<asym::RsaDecryptionKey>>;

/// The parsed RSA private key of a stored asymmetric key, from a small process-wide cache.
///
/// Parsing the PKCS#8 and setting up AWS-LC's RSA blinding for a freshly parsed key cost
/// about half of an RSA-2048 decryption, so `DecryptData` with an RSA key reuses the parsed
/// key. Entries are keyed by the key ARN **and** the SHA-256 of the stored material, so an
/// entry can only ever serve the exact material it was parsed from; the caller has already
/// looked the key up and authorized the use (a deleted or disabled key never reaches here).
/// At most [`RSA_CACHE_ENTRIES`] entries (a full cache drops an arbitrary one); the lock is
/// held only for the map lookup/insert, never while parsing. Dropped keys are freed by
/// AWS-LC, which clears the private components.
///
/// # Errors
/// `ValidationException`-mapped core error if the material is not a PKCS#8 RSA key.
pub fn rsa_decryption_key(key: &LoadedKey) -> Result<Arc<asym::RsaDecryptionKey>, ApiError> {
    use sha2::{Digest, Sha256};
    use std::sync::{Mutex, OnceLock, PoisonError};
    static CACHE: OnceLock<Mutex<RsaCache>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(RsaCache::new()));
    let id: (Box<str>, [u8; 32]) = (
        key.key.key_arn.as_str().into(),
        Sha256::digest(key.material()).into(),
    );
    if let Some(k) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
    {
        return Ok(Arc::clone(k));
    }
    let parsed = Arc::new(asym::RsaDecryptionKey::from_pkcs8(key.material())?);
    let mut map = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= RSA_CACHE_ENTRIES {
        if let Some(victim) = map.keys().next().cloned() {
            map.remove(&victim);
        }
    }
    map.insert(id, Arc::clone(&parsed));
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_on_raw_path() {
        let (r, l) = route("/keys/alias%2Fmy-key/encrypt").unwrap();
        assert_eq!(r.operation, "EncryptData");
        assert_eq!(l, Some("alias%2Fmy-key"));
        assert!(route("/keys/alias/my-key/encrypt").is_none());
        assert_eq!(route("/mac/verify").unwrap().0.operation, "VerifyMac");
        assert!(route("/mac/verify/x").is_none());
        assert!(route("/keys//encrypt").is_none());
    }
}
