//! The control plane (AWS JSON 1.0, `X-Amz-Target: PaymentCryptographyControlPlane.<Op>`):
//! one match from operation name to handler. Each handler validates every input member, then
//! runs the (synchronous) store call in `spawn_blocking`.
//!
//! Adding an operation: a `"Name" => name(state, body, ctx).await` arm in [`dispatch`] and one
//! handler function; remove it from [`NOT_YET_SUPPORTED`].

use std::sync::Arc;

use paycrypt_keystore::model::{
    KeyAlgorithm, KeyAttributes, KeyCheckValueAlgorithm, KeyClass, KeyModesOfUse, KeyState,
    KeyUsage, Tag,
};
use paycrypt_keystore::{CreateKeyRequest, Store, StoreError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::{blocking, AppState, Ctx};
use crate::validate::{
    check_str_element, text, Input, ALIAS_NAME, KEY_ARN, KEY_IDENTIFIER, NEXT_TOKEN,
};

/// The `X-Amz-Target` prefix of the control plane.
pub const TARGET_PREFIX: &str = "PaymentCryptographyControlPlane.";

/// Operations this server implements.
pub const SUPPORTED: &[&str] = &[
    "CreateKey",
    "GetKey",
    "ListKeys",
    "DeleteKey",
    "RestoreKey",
    "StartKeyUsage",
    "StopKeyUsage",
    "CreateAlias",
    "GetAlias",
    "ListAliases",
    "UpdateAlias",
    "DeleteAlias",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "ImportKey",
    "ExportKey",
    "GetParametersForImport",
    "GetPublicKeyCertificate",
    "GetParametersForExport",
    "AddKeyReplicationRegions",
    "RemoveKeyReplicationRegions",
    "EnableDefaultKeyReplicationRegions",
    "DisableDefaultKeyReplicationRegions",
    "GetDefaultKeyReplicationRegions",
    "AssociateMpaTeam",
    "DisassociateMpaTeam",
    "GetMpaTeamAssociation",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "GetCertificateSigningRequest",
];

/// Operations of the AWS model that this server does not implement yet (answered with a
/// `ValidationException` naming the operation).
pub const NOT_YET_SUPPORTED: &[&str] = &[];

/// The operation name (a `'static` label for metrics) for an `X-Amz-Target` value, if it names
/// an operation of the model.
pub fn operation_name(target: &str) -> Option<&'static str> {
    let op = target.strip_prefix(TARGET_PREFIX)?;
    SUPPORTED
        .iter()
        .chain(NOT_YET_SUPPORTED)
        .find(|n| **n == op)
        .copied()
}

/// Run control-plane operation `op` on the JSON `body`.
///
/// # Errors
/// The operation's `ApiError`.
pub async fn dispatch(
    state: &Arc<AppState>,
    op: &str,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    match op {
        "CreateKey" => create_key(state, body, ctx).await,
        "GetKey" => key_op(state, body, ctx, |s, id| s.get_key(&id)).await,
        "ListKeys" => list_keys(state, body).await,
        "DeleteKey" => delete_key(state, body, ctx).await,
        "RestoreKey" => key_op(state, body, ctx, |s, id| s.restore_key(&id)).await,
        "StartKeyUsage" => key_op(state, body, ctx, |s, id| s.start_key_usage(&id)).await,
        "StopKeyUsage" => key_op(state, body, ctx, |s, id| s.stop_key_usage(&id)).await,
        "CreateAlias" => alias_write(state, body, ctx, true).await,
        "UpdateAlias" => alias_write(state, body, ctx, false).await,
        "GetAlias" => get_alias(state, body, ctx).await,
        "DeleteAlias" => delete_alias(state, body).await,
        "ListAliases" => list_aliases(state, body, ctx).await,
        "TagResource" => tag_resource(state, body, ctx).await,
        "UntagResource" => untag_resource(state, body, ctx).await,
        "ListTagsForResource" => list_tags(state, body, ctx).await,
        "ImportKey" => crate::import_export::import_key(state, body, ctx).await,
        "ExportKey" => crate::import_export::export_key(state, body, ctx).await,
        "GetParametersForImport" => {
            crate::import_export::get_parameters_for_import(state, body).await
        }
        "GetParametersForExport" => {
            crate::import_export::get_parameters_for_export(state, body).await
        }
        "GetPublicKeyCertificate" => {
            crate::import_export::get_public_key_certificate(state, body, ctx).await
        }
        "AddKeyReplicationRegions" => {
            crate::control_more::key_replication_regions(state, body, ctx, true).await
        }
        "RemoveKeyReplicationRegions" => {
            crate::control_more::key_replication_regions(state, body, ctx, false).await
        }
        "EnableDefaultKeyReplicationRegions" => {
            crate::control_more::default_replication_regions(state, body, Some(true)).await
        }
        "DisableDefaultKeyReplicationRegions" => {
            crate::control_more::default_replication_regions(state, body, Some(false)).await
        }
        "GetDefaultKeyReplicationRegions" => {
            crate::control_more::default_replication_regions(state, body, None).await
        }
        "AssociateMpaTeam" => crate::control_more::associate_mpa_team(state, body).await,
        "DisassociateMpaTeam" => crate::control_more::disassociate_mpa_team(state, body).await,
        "GetMpaTeamAssociation" => crate::control_more::get_mpa_team_association(state, body).await,
        "PutResourcePolicy" => crate::control_more::put_resource_policy(state, body, ctx).await,
        "GetResourcePolicy" => crate::control_more::get_resource_policy(state, body, ctx).await,
        "DeleteResourcePolicy" => {
            crate::control_more::delete_resource_policy(state, body, ctx).await
        }
        "GetCertificateSigningRequest" => {
            crate::control_more::get_certificate_signing_request(state, body, ctx).await
        }
        other if NOT_YET_SUPPORTED.contains(&other) => {
            Err(ApiError::unsupported(&format!("Operation {other}")))
        }
        other => Err(ApiError::UnknownOperation {
            message: format!("Unknown operation {other}"),
        }),
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::internal())
}

pub(crate) fn key_output(
    ctx: &mut Ctx,
    key: &paycrypt_keystore::model::Key,
) -> Result<Value, ApiError> {
    ctx.key(&key.key_arn);
    Ok(json!({ "Key": to_json(key)? }))
}

fn usage_names() -> Vec<&'static str> {
    KeyUsage::ALL.iter().map(|u| u.as_str()).collect()
}

const DERIVE_KEY_USAGE: &[&str] = &[
    "TR31_B0_BASE_DERIVATION_KEY",
    "TR31_C0_CARD_VERIFICATION_KEY",
    "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
    "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
    "TR31_E2_EMV_MKEY_INTEGRITY",
    "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
    "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION",
    "TR31_E6_EMV_MKEY_OTHER",
    "TR31_K0_KEY_ENCRYPTION_KEY",
    "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
    "TR31_M3_ISO_9797_3_MAC_KEY",
    "TR31_M1_ISO_9797_1_MAC_KEY",
    "TR31_M6_ISO_9797_5_CMAC_KEY",
    "TR31_M7_HMAC_KEY",
    "TR31_P0_PIN_ENCRYPTION_KEY",
    "TR31_P1_PIN_GENERATION_KEY",
    "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
    "TR31_V2_VISA_PIN_VERIFICATION_KEY",
];

fn parse_derive_usage(s: &str) -> Option<KeyUsage> {
    if DERIVE_KEY_USAGE.contains(&s) {
        KeyUsage::parse(s)
    } else {
        None
    }
}

pub(crate) fn key_attributes(input: &mut Input<'_>) -> Result<KeyAttributes, ApiError> {
    let mut a = input.req_obj("KeyAttributes")?;
    let usages = usage_names();
    let key_usage = a.req_enum("KeyUsage", KeyUsage::parse, &usages)?;
    let classes: Vec<&str> = KeyClass::ALL.iter().map(|c| c.as_str()).collect();
    let key_class = a.req_enum("KeyClass", KeyClass::parse, &classes)?;
    let algs: Vec<&str> = KeyAlgorithm::ALL.iter().map(|c| c.as_str()).collect();
    let key_algorithm = a.req_enum("KeyAlgorithm", KeyAlgorithm::parse, &algs)?;
    let mut m = a.req_obj("KeyModesOfUse")?;
    let modes = modes_of_use(&mut m)?;
    m.finish()?;
    a.finish()?;
    Ok(KeyAttributes {
        key_usage,
        key_class,
        key_algorithm,
        key_modes_of_use: modes,
    })
}

/// The `KeyModesOfUse` members (each optional, default false).
pub(crate) fn modes_of_use(m: &mut Input<'_>) -> Result<KeyModesOfUse, ApiError> {
    Ok(KeyModesOfUse {
        encrypt: m.opt_bool("Encrypt")?.unwrap_or(false),
        decrypt: m.opt_bool("Decrypt")?.unwrap_or(false),
        wrap: m.opt_bool("Wrap")?.unwrap_or(false),
        unwrap: m.opt_bool("Unwrap")?.unwrap_or(false),
        generate: m.opt_bool("Generate")?.unwrap_or(false),
        sign: m.opt_bool("Sign")?.unwrap_or(false),
        verify: m.opt_bool("Verify")?.unwrap_or(false),
        derive_key: m.opt_bool("DeriveKey")?.unwrap_or(false),
        no_restrictions: m.opt_bool("NoRestrictions")?.unwrap_or(false),
    })
}

pub(crate) fn tags(
    input: &mut Input<'_>,
    name: &'static str,
    required: bool,
) -> Result<Vec<Tag>, ApiError> {
    let list = input.opt_list(name, 0, 200)?;
    let Some((path, items)) = list else {
        if required {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                input.path_of(name)
            )));
        }
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut t = Input::element(format!("{path}.{}", i + 1), item)?;
        let key = t.req_str("Key", text(1, 128))?.to_owned();
        let value = t.req_str("Value", text(1, 256))?.to_owned();
        t.finish()?;
        out.push(Tag { key, value });
    }
    Ok(out)
}

async fn create_key(state: &Arc<AppState>, body: &Value, ctx: &mut Ctx) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let key_attributes = key_attributes(&mut i)?;
    let kcvs: Vec<&str> = KeyCheckValueAlgorithm::ALL
        .iter()
        .map(|c| c.as_str())
        .collect();
    let key_check_value_algorithm = i.opt_enum(
        "KeyCheckValueAlgorithm",
        KeyCheckValueAlgorithm::parse,
        &kcvs,
    )?;
    let exportable = i.req_bool("Exportable")?;
    let enabled = i.opt_bool("Enabled")?;
    let tags = tags(&mut i, "Tags", false)?;
    let derive_key_usage = i.opt_enum("DeriveKeyUsage", parse_derive_usage, DERIVE_KEY_USAGE)?;
    let regions = crate::control_more::replication_regions(&mut i, "ReplicationRegions", false)?;
    i.finish()?;
    let req = CreateKeyRequest {
        key_attributes,
        key_check_value_algorithm,
        exportable,
        enabled,
        tags,
        derive_key_usage,
    };
    let opts = paycrypt_keystore::KeyOptions::new(regions, None);
    let key = blocking(state, move |s| s.create_key_with(req, opts)).await?;
    key_output(ctx, &key)
}

async fn key_op<F>(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
    f: F,
) -> Result<Value, ApiError>
where
    F: FnOnce(&Store, String) -> Result<paycrypt_keystore::model::Key, StoreError> + Send + 'static,
{
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    i.finish()?;
    let key = blocking(state, move |s| f(s, id)).await?;
    key_output(ctx, &key)
}

async fn delete_key(state: &Arc<AppState>, body: &Value, ctx: &mut Ctx) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    let days = i.opt_int("DeleteKeyInDays", 3, 180)?.map(|d| d as u32);
    i.finish()?;
    let key = blocking(state, move |s| s.delete_key(&id, days)).await?;
    key_output(ctx, &key)
}

fn page(i: &mut Input<'_>) -> Result<(Option<String>, Option<u32>), ApiError> {
    let token = i.opt_str("NextToken", NEXT_TOKEN)?.map(str::to_owned);
    let max = i.opt_int("MaxResults", 1, 100)?.map(|m| m as u32);
    Ok((token, max))
}

fn with_token(mut v: Value, token: Option<String>) -> Value {
    if let (Some(t), Value::Object(m)) = (token, &mut v) {
        m.insert("NextToken".into(), Value::String(t));
    }
    v
}

async fn list_keys(state: &Arc<AppState>, body: &Value) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let states: Vec<&str> = KeyState::ALL.iter().map(|c| c.as_str()).collect();
    let key_state = i.opt_enum("KeyState", KeyState::parse, &states)?;
    let (token, max) = page(&mut i)?;
    i.finish()?;
    let (keys, next) = blocking(state, move |s| {
        s.list_keys(key_state, token.as_deref(), max)
    })
    .await?;
    Ok(with_token(json!({ "Keys": to_json(&keys)? }), next))
}

async fn alias_write(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
    create: bool,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let name = i.req_str("AliasName", ALIAS_NAME)?.to_owned();
    let key_arn = i.opt_str("KeyArn", KEY_ARN)?.map(str::to_owned);
    i.finish()?;
    let alias = blocking(state, move |s| {
        if create {
            s.create_alias(&name, key_arn.as_deref())
        } else {
            s.update_alias(&name, key_arn.as_deref())
        }
    })
    .await?;
    if let Some(a) = &alias.key_arn {
        ctx.key(a);
    }
    Ok(json!({ "Alias": to_json(&alias)? }))
}

async fn get_alias(state: &Arc<AppState>, body: &Value, ctx: &mut Ctx) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let name = i.req_str("AliasName", ALIAS_NAME)?.to_owned();
    i.finish()?;
    let alias = blocking(state, move |s| s.get_alias(&name)).await?;
    if let Some(a) = &alias.key_arn {
        ctx.key(a);
    }
    Ok(json!({ "Alias": to_json(&alias)? }))
}

async fn delete_alias(state: &Arc<AppState>, body: &Value) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let name = i.req_str("AliasName", ALIAS_NAME)?.to_owned();
    i.finish()?;
    blocking(state, move |s| s.delete_alias(&name)).await?;
    Ok(json!({}))
}

async fn list_aliases(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let key_arn = i.opt_str("KeyArn", KEY_ARN)?.map(str::to_owned);
    let (token, max) = page(&mut i)?;
    i.finish()?;
    if let Some(a) = &key_arn {
        ctx.key(a);
    }
    let (aliases, next) = blocking(state, move |s| {
        s.list_aliases(key_arn.as_deref(), token.as_deref(), max)
    })
    .await?;
    Ok(with_token(json!({ "Aliases": to_json(&aliases)? }), next))
}

async fn tag_resource(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    let tags = tags(&mut i, "Tags", true)?;
    i.finish()?;
    ctx.key(&arn);
    blocking(state, move |s| s.tag_resource(&arn, tags)).await?;
    Ok(json!({}))
}

async fn untag_resource(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    let list = i.opt_list("TagKeys", 0, 200)?;
    let Some((path, items)) = list else {
        return Err(ApiError::validation(
            "1 validation error detected: Value null at 'TagKeys' failed to satisfy constraint: Member must not be null",
        ));
    };
    let mut keys = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        keys.push(check_str_element(&format!("{path}.{}", n + 1), item, text(1, 128))?.to_owned());
    }
    i.finish()?;
    ctx.key(&arn);
    blocking(state, move |s| s.untag_resource(&arn, keys)).await?;
    Ok(json!({}))
}

async fn list_tags(state: &Arc<AppState>, body: &Value, ctx: &mut Ctx) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    let (token, max) = page(&mut i)?;
    i.finish()?;
    ctx.key(&arn);
    let (tags, next) = blocking(state, move |s| {
        s.list_tags_for_resource(&arn, token.as_deref(), max)
    })
    .await?;
    Ok(with_token(json!({ "Tags": to_json(&tags)? }), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names() {
        assert_eq!(
            operation_name("PaymentCryptographyControlPlane.ListKeys"),
            Some("ListKeys")
        );
        assert_eq!(
            operation_name("PaymentCryptographyControlPlane.ImportKey"),
            Some("ImportKey")
        );
        assert_eq!(operation_name("PaymentCryptographyControlPlane.Nope"), None);
        assert_eq!(operation_name("Other.ListKeys"), None);
    }
}
