//! `TranslateKeyMaterial` (`POST /keymaterial/translate`, AWS-API.md §2.4):
//! `IncomingKeyMaterial.DiffieHellmanTr31KeyBlock` → `OutgoingKeyMaterial.Tr31KeyBlock`.
//!
//! The incoming TR-31 block is wrapped under a key block protection key derived by ECDH
//! ([`super::wrapped::ecdh_derive`]: the `PrivateKeyIdentifier` K3 key pair, the peer's
//! certificate verified against the named CA, the KDF over `DerivationData.SharedInformation`,
//! `DeriveKeyAlgorithm` TDES or AES). The derived KBPK must be allowed to unwrap keys: the K3
//! key's `DeriveKeyUsage` must be TR31_K0 or TR31_K1 ([`crate::policy::authorize_ecdh_working_key`]).
//! The block is unwrapped (versions A/B/C under a TDES KBPK, D under an AES one; MAC checked
//! first), the key must be exportable (exportability `E` or `S`; `N` blocks are refused) and
//! is re-wrapped under the outgoing KEK (K0/K1, Wrap or Encrypt allowed; version B for a TDES
//! KEK, D for an AES KEK), keeping usage, algorithm, mode of use, key version, exportability and
//! optional blocks (a `KP` block, which names the incoming KBPK, is dropped; padding is
//! recomputed). Both wrapping keys must be at least as strong as the key. The answer is a
//! `WrappedWorkingKey` (`WrappedKeyMaterial`, `KeyCheckValue` of the translated key with
//! `KeyCheckValueAlgorithm` or its algorithm's default, `WrappedKeyMaterialFormat`
//! `TR31_KEY_BLOCK`).

use paycrypt_core::keyblock::tr31::{self, Exportability, Kbpk, OptionalBlockId, Version};
use paycrypt_core::keyblock::KeyBlockError;
use paycrypt_keystore::model::KeyCheckValueAlgorithm;
use serde_json::{json, Value};

use super::use_key;
use super::wrapped::{
    default_kcv_algorithm, ecdh_derive, read_ecdh, KCV_NAMES, SHARED_INFORMATION, TR31_BLOCK,
};
use crate::error::ApiError;
use crate::import_export;
use crate::policy::{authorize_ecdh_working_key, KeyUse};
use crate::state::{AppState, Ctx};
use crate::validate::{Input, KEY_IDENTIFIER};

/// `TranslateKeyMaterial`.
///
/// # Errors
/// Validation, not-found and policy errors.
pub fn translate_key_material(
    state: &AppState,
    ctx: &mut Ctx,
    _label: Option<&str>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let (member, mut u) = i.req_union("IncomingKeyMaterial")?;
    if member != "DiffieHellmanTr31KeyBlock" {
        let p = u.path_of(&member);
        u.finish()?;
        return Err(ApiError::validation(format!("Unknown member '{p}'")));
    }
    let mut s = u.req_obj("DiffieHellmanTr31KeyBlock")?;
    let k3_id = s.req_str("PrivateKeyIdentifier", KEY_IDENTIFIER)?;
    let (dd_member, mut dd) = s.req_union("DerivationData")?;
    if dd_member != "SharedInformation" {
        let p = dd.path_of(&dd_member);
        dd.finish()?;
        return Err(ApiError::validation(format!("Unknown member '{p}'")));
    }
    let shared = dd.req_str("SharedInformation", SHARED_INFORMATION)?;
    dd.finish()?;
    let ecdh = read_ecdh(&mut s, "DeriveKeyAlgorithm", Some(shared))?;
    let block = s.req_str("WrappedKeyBlock", TR31_BLOCK)?;
    s.finish()?;
    u.finish()?;
    let (out_member, mut o) = i.req_union("OutgoingKeyMaterial")?;
    if out_member != "Tr31KeyBlock" {
        let p = o.path_of(&out_member);
        o.finish()?;
        return Err(ApiError::validation(format!("Unknown member '{p}'")));
    }
    let mut t = o.req_obj("Tr31KeyBlock")?;
    let kek_id = t.req_str("WrappingKeyIdentifier", KEY_IDENTIFIER)?;
    t.finish()?;
    o.finish()?;
    let kcv_alg = i.opt_enum(
        "KeyCheckValueAlgorithm",
        KeyCheckValueAlgorithm::parse,
        KCV_NAMES,
    )?;
    i.finish()?;

    // The incoming KBPK: ECDH-derived, single-purpose (K0/K1 by the K3 key's DeriveKeyUsage).
    let k3 = use_key(state, ctx, k3_id, KeyUse::EcdhDerive)?;
    authorize_ecdh_working_key(&k3.key, ecdh.algorithm, KeyUse::UnwrapKey)?;
    let kbpk_alg = ecdh.algorithm;
    let kbpk = ecdh_derive(state, ctx, &k3, &ecdh)?;
    let header = tr31::parse_header(block)?;
    let tdes = kbpk_alg.is_tdes();
    match (tdes, header.version) {
        (true, Version::A | Version::B | Version::C) | (false, Version::D) => {}
        (true, _) => {
            return Err(ApiError::validation(
                "A TDES key block protection key unwraps TR-31 key blocks of version A, B or C",
            ))
        }
        (false, _) => {
            return Err(ApiError::validation(
                "An AES key block protection key unwraps TR-31 key blocks of version D",
            ))
        }
    }
    let kbpk = if tdes {
        Kbpk::tdes(kbpk.expose())?
    } else {
        Kbpk::aes(kbpk.expose())?
    };
    let (mut header, key) = tr31::unwrap(kbpk, block).map_err(|e| match e {
        paycrypt_core::Error::KeyBlock(KeyBlockError::MacMismatch) => ApiError::validation(
            "The TR-31 key block does not authenticate: it was altered or wrapped under another key",
        ),
        other => ApiError::from(other),
    })?;
    let (attrs, exportable) = import_export::attributes_from_header(&header, key.expose().len())?;
    import_export::check_strength(kbpk_alg, attrs.key_algorithm)?;
    if !exportable || matches!(header.exportability, Exportability::NonExportable) {
        return Err(ApiError::validation(
            "The TR-31 key block is not exportable (exportability N) and cannot be translated",
        ));
    }

    // The outgoing KEK.
    let kek = use_key(state, ctx, kek_id, KeyUse::WrapKey)?;
    let kek_alg = kek.key.key_attributes.key_algorithm;
    import_export::check_strength(kek_alg, attrs.key_algorithm)?;
    header.version = if kek_alg.is_tdes() {
        Version::B
    } else {
        Version::D
    };
    header
        .optional_blocks
        .retain(|b| b.id() != OptionalBlockId::KP && b.id() != OptionalBlockId::PB);
    let wrapped = tr31::wrap(import_export::kbpk(&kek)?, &header, key.expose())?;
    let kcv = import_export::kcv(
        attrs.key_algorithm,
        key.expose(),
        kcv_alg.unwrap_or_else(|| default_kcv_algorithm(attrs.key_algorithm)),
    )?;
    Ok(json!({
        "WrappedKey": {
            "WrappedKeyMaterial": wrapped,
            "KeyCheckValue": kcv,
            "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
        }
    }))
}
