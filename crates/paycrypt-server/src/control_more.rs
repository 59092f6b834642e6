//! The rest of the control plane (AWS-API.md §2.3): key replication regions, multi-party
//! approval (MPA) team associations, resource policies and `GetCertificateSigningRequest`.
//!
//! What paycrypt does with them (a single paycrypt deployment has **one region** and no IAM):
//!
//! * **Replication regions** (`AddKeyReplicationRegions`, `RemoveKeyReplicationRegions`,
//!   `Enable`/`Disable`/`GetDefaultKeyReplicationRegions`, the `ReplicationRegions` member of
//!   `CreateKey`/`ImportKey`): validated, stored and returned. A key with regions shows
//!   `MultiRegionKeyType=PRIMARY`, `PrimaryRegion` = this deployment's region,
//!   `UsingDefaultReplicationRegions`, and a `ReplicationStatus` entry per region with
//!   `Status=FAILED` and a `StatusMessage` saying that paycrypt has one region: nothing is ever
//!   copied, and the status never claims otherwise (`SYNCHRONIZED` would be a lie, `IN_PROGRESS`
//!   a promise). Requesting the deployment's own region is a `ValidationException`.
//! * **MPA teams** (`AssociateMpaTeam`, `DisassociateMpaTeam`, `GetMpaTeamAssociation`): the
//!   association is stored and returned (`AssociationState=ACTIVE`), but paycrypt has no
//!   multi-party approval: `ImportKey` of a root certificate is **not** held for approval.
//!   `DisassociateMpaTeam` removes it at once and returns it with `AssociationState=DELETE_PENDING`
//!   (the model has no "deleted" state); a second association for the same action is a
//!   `ConflictException`, a missing one `ResourceNotFoundException`. `RequesterComment` is
//!   validated and discarded (the model marks it sensitive).
//! * **Resource policies** (`PutResourcePolicy`, `GetResourcePolicy`, `DeleteResourcePolicy`):
//!   the document must be a JSON object within the model's `ResourcePolicy` shape (1..20480
//!   characters of `[\t\n\r\x20-\xFF]`); it is stored as given and returned. A policy that allows
//!   everyone (`"Principal": "*"` or `{"AWS": "*"}` in an `Allow` statement without `Condition`)
//!   is refused with `PublicPolicyException`, as AWS does. paycrypt does **not evaluate** IAM or
//!   resource policies: every request signed with the deployment's credentials is allowed.
//! * **GetCertificateSigningRequest**: a PKCS#10 (RFC 2986) request for the public key of an RSA
//!   or ECC `ASYMMETRIC_KEY_PAIR` held here, subject from `CertificateSubject`, signed with the
//!   key (RSA PKCS#1 v1.5 or ECDSA) and `SigningAlgorithm`'s hash; returned as PEM,
//!   base64-encoded again (like every `CertificateType`). aws-lc-rs signs RSA with SHA-256/384/512
//!   and ECDSA as P-256/SHA-256, P-384/SHA-384 and P-521/SHA-224..512; other combinations
//!   (e.g. RSA with SHA224) are a `ValidationException`.

use std::str::FromStr;
use std::sync::Arc;

use paycrypt_keystore::model::KeyAlgorithm;
use paycrypt_keystore::StoreError;
use serde_json::{json, Value};
use x509_cert::der::asn1::{BitString, Ia5String};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::pem::LineEnding;
use x509_cert::der::{Any, Decode, Encode, EncodePem};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::control::key_output;
use crate::error::ApiError;
use crate::policy::{authorize, KeyUse};
use crate::state::{blocking, AppState, Ctx};
use crate::validate::{check_str_element, text, Input, StrShape, KEY_ARN, KEY_IDENTIFIER};

/// The `MpaOperation` enum.
const MPA_OPERATIONS: &[&str] = &["IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"];
/// The `SigningAlgorithmType` enum.
const SIGNING_ALGORITHMS: &[&str] = &["SHA224", "SHA256", "SHA384", "SHA512"];

fn is_region(s: &str) -> bool {
    paycrypt_keystore::validate::is_region(s)
}

/// `Region` (`[a-z]{2}-[a-z]{1,16}-[0-9]+`; the model gives no length, 64 bounds the digits).
const REGION: StrShape = StrShape {
    min: 4,
    max: 64,
    pattern: "[a-z]{2}-[a-z]{1,16}-[0-9]+",
    check: is_region,
};

fn is_mpa_team_arn(s: &str) -> bool {
    // arn:aws(-[^:]+)?:mpa:[a-z0-9-]{1,20}:[0-9]{12}:approval-team/[a-zA-Z0-9._-]+
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let rest = match rest.strip_prefix('-') {
        Some(r) => match r.split_once(':') {
            Some((part, tail)) if !part.is_empty() => tail,
            _ => return false,
        },
        None => match rest.strip_prefix(':') {
            Some(t) => t,
            None => return false,
        },
    };
    let Some(rest) = rest.strip_prefix("mpa:") else {
        return false;
    };
    let Some((region, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some((account, resource)) = rest.split_once(':') else {
        return false;
    };
    let Some(team) = resource.strip_prefix("approval-team/") else {
        return false;
    };
    (1..=20).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !team.is_empty()
        && team
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `MpaTeamArn`.
const MPA_TEAM_ARN: StrShape = StrShape {
    min: 20,
    max: 2048,
    pattern: "arn:aws(-[^:]+)?:mpa:[a-z0-9-]{1,20}:[0-9]{12}:approval-team/[a-zA-Z0-9._-]+",
    check: is_mpa_team_arn,
};

fn is_policy_text(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{FF}').contains(&c))
}

/// `ResourcePolicy`.
const RESOURCE_POLICY: StrShape = StrShape {
    min: 1,
    max: 20480,
    pattern: "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    check: is_policy_text,
};

fn no_brackets(s: &str) -> bool {
    !s.contains(['[', ';', ']', '<', '>'])
}

const fn subject(min: usize, max: usize) -> StrShape {
    StrShape {
        min,
        max,
        pattern: "[^\\[;\\]<>]+",
        check: no_brackets,
    }
}

fn is_country(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_email(s: &str) -> bool {
    // [a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".!#$%&'’*+/=?^_`{|}~-".contains(c));
    let domain_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    local_ok && domain_ok
}

/// Read a `[Region]` list member (required or optional); duplicates are merged by the store.
///
/// # Errors
/// `ValidationException` for a missing required list, a non-list or a malformed region.
pub(crate) fn replication_regions(
    i: &mut Input<'_>,
    name: &'static str,
    required: bool,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some((path, items)) = i.opt_list(name, 0, usize::MAX)? else {
        if required {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                i.path_of(name)
            )));
        }
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let r = check_str_element(&format!("{path}.{}", n + 1), item, REGION)?;
        if !out.iter().any(|x: &String| x == r) {
            out.push(r.to_owned());
        }
    }
    Ok(Some(out))
}

fn store<T>(r: Result<T, StoreError>) -> Result<T, ApiError> {
    r.map_err(ApiError::from)
}

/// `AddKeyReplicationRegions` (`add`) / `RemoveKeyReplicationRegions`.
///
/// # Errors
/// `ValidationException`, `ResourceNotFoundException`, `ConflictException` (key not
/// CREATE_COMPLETE).
pub async fn key_replication_regions(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
    add: bool,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    let regions = replication_regions(&mut i, "ReplicationRegions", true)?.unwrap_or_default();
    i.finish()?;
    let key = blocking(state, move |s| {
        s.change_key_replication_regions(&id, add, &regions)
    })
    .await?;
    key_output(ctx, &key)
}

/// `EnableDefaultKeyReplicationRegions` (`Some(true)`), `DisableDefaultKeyReplicationRegions`
/// (`Some(false)`) and `GetDefaultKeyReplicationRegions` (`None`).
///
/// # Errors
/// `ValidationException`.
pub async fn default_replication_regions(
    state: &Arc<AppState>,
    body: &Value,
    enable: Option<bool>,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let regions = match enable {
        Some(_) => replication_regions(&mut i, "ReplicationRegions", true)?.unwrap_or_default(),
        None => Vec::new(),
    };
    i.finish()?;
    let list = blocking(state, move |s| match enable {
        Some(e) => store(s.update_default_replication_regions(e, &regions)),
        None => Ok(s.default_replication_regions()),
    })
    .await?;
    Ok(json!({ "EnabledReplicationRegions": list }))
}

fn requester_comment(i: &mut Input<'_>) -> Result<(), ApiError> {
    // Validated and discarded: the model marks it sensitive.
    let _ = i.opt_str("RequesterComment", text(0, 200))?;
    Ok(())
}

fn association(action: &str, team: &str, state: &str) -> Value {
    json!({
        "MpaTeamAssociation": {
            "Action": action,
            "MpaTeamArn": team,
            "AssociationState": state,
        }
    })
}

/// `AssociateMpaTeam`.
///
/// # Errors
/// `ValidationException`; `ConflictException` when the action already has a team.
pub async fn associate_mpa_team(state: &Arc<AppState>, body: &Value) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let action = i.req_enum("Action", mpa_operation, MPA_OPERATIONS)?;
    let team = i.req_str("MpaTeamArn", MPA_TEAM_ARN)?.to_owned();
    requester_comment(&mut i)?;
    i.finish()?;
    let t = team.clone();
    blocking(state, move |s| s.associate_mpa_team(action, &t)).await?;
    Ok(association(action, &team, "ACTIVE"))
}

/// `DisassociateMpaTeam`.
///
/// # Errors
/// `ValidationException`; `ResourceNotFoundException` when the action has no team.
pub async fn disassociate_mpa_team(state: &Arc<AppState>, body: &Value) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let action = i.req_enum("Action", mpa_operation, MPA_OPERATIONS)?;
    requester_comment(&mut i)?;
    i.finish()?;
    let team = blocking(state, move |s| s.disassociate_mpa_team(action)).await?;
    Ok(association(action, &team, "DELETE_PENDING"))
}

/// `GetMpaTeamAssociation`.
///
/// # Errors
/// `ValidationException`; `ResourceNotFoundException` when the action has no team.
pub async fn get_mpa_team_association(
    state: &Arc<AppState>,
    body: &Value,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let action = i.req_enum("Action", mpa_operation, MPA_OPERATIONS)?;
    i.finish()?;
    let team = blocking(state, move |s| s.mpa_team(action)).await?;
    Ok(association(action, &team, "ACTIVE"))
}

fn mpa_operation(s: &str) -> Option<&'static str> {
    MPA_OPERATIONS.iter().find(|o| **o == s).copied()
}

/// Whether a statement's principal is everyone.
fn is_everyone(p: &Value) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Array(a) => a.iter().any(is_everyone),
        Value::Object(m) => m.get("AWS").is_some_and(is_everyone),
        _ => false,
    }
}

/// Check a policy document: a JSON object; refuse policies that grant access to everyone.
fn check_policy(policy: &str) -> Result<(), ApiError> {
    let doc: Value = serde_json::from_str(policy)
        .map_err(|_| ApiError::validation("Policy is not a valid JSON document"))?;
    let Value::Object(doc) = doc else {
        return Err(ApiError::validation("Policy must be a JSON object"));
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    for st in statements {
        let allow = st.get("Effect").and_then(Value::as_str) == Some("Allow");
        let public = st.get("Principal").is_some_and(is_everyone);
        if allow && public && st.get("Condition").is_none() {
            return Err(ApiError::PublicPolicy {
                message: "The policy allows access to everyone (Principal \"*\"); public resource policies are not allowed".into(),
            });
        }
    }
    Ok(())
}

/// `PutResourcePolicy`: stored as given, never evaluated.
///
/// # Errors
/// `ValidationException`, `PublicPolicyException`, `ResourceNotFoundException`.
pub async fn put_resource_policy(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    let policy = i.req_str("Policy", RESOURCE_POLICY)?.to_owned();
    i.finish()?;
    check_policy(&policy)?;
    ctx.key(&arn);
    let (a, p) = (arn.clone(), policy.clone());
    blocking(state, move |s| s.put_resource_policy(&a, &p)).await?;
    Ok(json!({ "ResourceArn": arn, "Policy": policy }))
}

/// `GetResourcePolicy`.
///
/// # Errors
/// `ValidationException`; `ResourceNotFoundException` for an unknown key or no policy.
pub async fn get_resource_policy(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    i.finish()?;
    ctx.key(&arn);
    let a = arn.clone();
    let policy = blocking(state, move |s| s.get_resource_policy(&a)).await?;
    Ok(json!({ "ResourceArn": arn, "Policy": policy }))
}

/// `DeleteResourcePolicy`.
///
/// # Errors
/// `ValidationException`; `ResourceNotFoundException` for an unknown key or no policy.
pub async fn delete_resource_policy(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let arn = i.req_str("ResourceArn", KEY_ARN)?.to_owned();
    i.finish()?;
    ctx.key(&arn);
    blocking(state, move |s| s.delete_resource_policy(&arn)).await?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------
// GetCertificateSigningRequest
// ---------------------------------------------------------------------------

const OID_CN: &str = "2.5.4.3";
const OID_C: &str = "2.5.4.6";
const OID_L: &str = "2.5.4.7";
const OID_ST: &str = "2.5.4.8";
const OID_O: &str = "2.5.4.10";
const OID_OU: &str = "2.5.4.11";
/// PKCS#9 emailAddress (IA5String).
const OID_EMAIL: &str = "1.2.840.113549.1.9.1";

/// The validated `CertificateSubject`, in RDN order (C, ST, L, O, OU, CN, emailAddress).
struct Subject {
    parts: Vec<(&'static str, String)>,
}

fn read_subject(i: &mut Input<'_>) -> Result<Subject, ApiError> {
    let mut s = i.req_obj("CertificateSubject")?;
    let cn = s.req_str("CommonName", subject(1, 64))?.to_owned();
    let ou = s.opt_str("OrganizationUnit", subject(1, 64))?;
    let o = s.opt_str("Organization", subject(1, 64))?;
    let city = s.opt_str("City", subject(1, 128))?;
    let country = s.opt_str(
        "Country",
        StrShape {
            min: 2,
            max: 2,
            pattern: "[A-Za-z]+",
            check: is_country,
        },
    )?;
    let st = s.opt_str("StateOrProvince", subject(1, 128))?;
    let email = s.opt_str(
        "EmailAddress",
        StrShape {
            min: 1,
            max: 128,
            pattern: "[a-zA-Z0-9.!#$%&’*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\\.[a-zA-Z0-9-]+)*",
            check: is_email,
        },
    )?;
    s.finish()?;
    let mut parts = Vec::new();
    for (oid, v) in [
        (OID_C, country),
        (OID_ST, st),
        (OID_L, city),
        (OID_O, o),
        (OID_OU, ou),
    ] {
        if let Some(v) = v {
            parts.push((oid, v.to_owned()));
        }
    }
    parts.push((OID_CN, cn));
    if let Some(e) = email {
        parts.push((OID_EMAIL, e.to_owned()));
    }
    Ok(Subject { parts })
}

fn internal(what: &str) -> ApiError {
    tracing::error!(what, "certificate signing request encoding failed");
    ApiError::internal()
}

/// Build the subject `Name`: PrintableString for country, UTF8String for the other text
/// attributes, IA5String for the e-mail address (RFC 5280 §4.1.2.6, PKCS#9).
fn subject_name(subject: &Subject) -> Result<Name, ApiError> {
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::der::asn1::{PrintableStringRef, SetOfVec, Utf8StringRef};
    let mut rdns = Vec::new();
    for (oid, value) in &subject.parts {
        let oid = ObjectIdentifier::from_str(oid).map_err(|_| internal("oid"))?;
        let any = if oid.to_string() == OID_C {
            Any::encode_from(&PrintableStringRef::new(value.as_str()).map_err(|_| {
                ApiError::validation("CertificateSubject.Country must be two letters")
            })?)
        } else if oid.to_string() == OID_EMAIL {
            Any::encode_from(&Ia5String::new(value.as_str()).map_err(|_| {
                ApiError::validation("CertificateSubject.EmailAddress must be ASCII")
            })?)
        } else {
            Any::encode_from(&Utf8StringRef::new(value.as_str()).map_err(|_| internal("utf8"))?)
        }
        .map_err(|_| internal("attribute value"))?;
        let atv = AttributeTypeAndValue { oid, value: any };
        let set = SetOfVec::try_from(vec![atv]).map_err(|_| internal("rdn"))?;
        rdns.push(RelativeDistinguishedName(set));
    }
    Ok(RdnSequence(rdns))
}

enum Signer {
    Rsa(paycrypt_core::asym::RsaSignatureAlgorithm, &'static str),
    Ecdsa(
        &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
        &'static str,
    ),
}

fn signer(alg: KeyAlgorithm, hash: &str) -> Result<Signer, ApiError> {
    use aws_lc_rs::signature as sig;
    use paycrypt_core::asym::RsaSignatureAlgorithm as R;
    let unsupported = || {
        ApiError::validation(format!(
            "SigningAlgorithm {hash} is not supported for a {alg} key here (RSA: SHA256, SHA384, SHA512; ECC_NIST_P256: SHA256; ECC_NIST_P384: SHA384; ECC_NIST_P521: SHA224 to SHA512)"
        ))
    };
    Ok(match (alg, hash) {
        (a, "SHA256") if a.is_rsa() => Signer::Rsa(R::Pkcs1Sha256, "1.2.840.113549.1.1.11"),
        (a, "SHA384") if a.is_rsa() => Signer::Rsa(R::Pkcs1Sha384, "1.2.840.113549.1.1.12"),
        (a, "SHA512") if a.is_rsa() => Signer::Rsa(R::Pkcs1Sha512, "1.2.840.113549.1.1.13"),
        (KeyAlgorithm::EccNistP256, "SHA256") => {
            Signer::Ecdsa(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, "1.2.840.10045.4.3.2")
        }
        (KeyAlgorithm::EccNistP384, "SHA384") => {
            Signer::Ecdsa(&sig::ECDSA_P384_SHA384_ASN1_SIGNING, "1.2.840.10045.4.3.3")
        }
        (KeyAlgorithm::EccNistP521, "SHA224") => {
            Signer::Ecdsa(&sig::ECDSA_P521_SHA224_ASN1_SIGNING, "1.2.840.10045.4.3.1")
        }
        (KeyAlgorithm::EccNistP521, "SHA256") => {
            Signer::Ecdsa(&sig::ECDSA_P521_SHA256_ASN1_SIGNING, "1.2.840.10045.4.3.2")
        }
        (KeyAlgorithm::EccNistP521, "SHA384") => {
            Signer::Ecdsa(&sig::ECDSA_P521_SHA384_ASN1_SIGNING, "1.2.840.10045.4.3.3")
        }
        (KeyAlgorithm::EccNistP521, "SHA512") => {
            Signer::Ecdsa(&sig::ECDSA_P521_SHA512_ASN1_SIGNING, "1.2.840.10045.4.3.4")
        }
        _ => return Err(unsupported()),
    })
}

/// Build and sign the PKCS#10 request; returns its DER.
fn build_csr(
    pkcs8: &[u8],
    spki_der: &[u8],
    subject: &Subject,
    signer: &Signer,
) -> Result<Vec<u8>, ApiError> {
    let info = CertReqInfo {
        version: Version::V1,
        subject: subject_name(subject)?,
        public_key: SubjectPublicKeyInfoOwned::from_der(spki_der)
            .map_err(|_| internal("public key"))?,
        attributes: Default::default(),
    };
    let tbs = info.to_der().map_err(|_| internal("request info"))?;
    let (signature, oid, params) = match signer {
        Signer::Rsa(a, oid) => (
            paycrypt_core::asym::rsa_sign(pkcs8, *a, &tbs)?,
            *oid,
            Some(Any::null()),
        ),
        Signer::Ecdsa(a, oid) => {
            let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(a, pkcs8)
                .map_err(|_| internal("ECC key"))?;
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let sig = kp.sign(&rng, &tbs).map_err(|_| internal("ECDSA"))?;
            (sig.as_ref().to_vec(), *oid, None)
        }
    };
    let req = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::from_str(oid).map_err(|_| internal("oid"))?,
            parameters: params,
        },
        signature: BitString::from_bytes(&signature).map_err(|_| internal("signature"))?,
    };
    req.to_der().map_err(|_| internal("request"))
}

/// `GetCertificateSigningRequest`.
///
/// # Errors
/// `ValidationException` for bad input, a key that is not an RSA/ECC key pair held here (or
/// disabled, pending deletion) or an unsupported signing algorithm; `ResourceNotFoundException`.
pub async fn get_certificate_signing_request(
    state: &Arc<AppState>,
    body: &Value,
    ctx: &mut Ctx,
) -> Result<Value, ApiError> {
    let mut i = Input::root(body)?;
    let id = i.req_str("KeyIdentifier", KEY_IDENTIFIER)?.to_owned();
    let hash = i.req_enum("SigningAlgorithm", signing_algorithm, SIGNING_ALGORITHMS)?;
    let subject = read_subject(&mut i)?;
    i.finish()?;
    let (arn, der) = blocking(state, move |s| {
        let key = s.key_for_use(&id)?;
        authorize(&key.key, KeyUse::CertificateSigningRequest)?;
        let signer = signer(key.key.key_attributes.key_algorithm, hash)?;
        let spki = key
            .public_key_der()
            .ok_or_else(|| internal("public key of a key pair"))?;
        let der = build_csr(key.material(), &spki, &subject, &signer)?;
        Ok::<_, ApiError>((key.key.key_arn.clone(), der))
    })
    .await?;
    ctx.key(&arn);
    let req = CertReq::from_der(&der).map_err(|_| internal("re-decoding the request"))?;
    let pem = req
        .to_pem(LineEnding::LF)
        .map_err(|_| internal("PEM encoding"))?;
    let b64 = <base64ct::Base64 as base64ct::Encoding>::encode_string(pem.as_bytes());
    Ok(json!({ "CertificateSigningRequest": b64 }))
}

fn signing_algorithm(s: &str) -> Option<&'static str> {
    SIGNING_ALGORITHMS.iter().find(|a| **a == s).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_mpa_team_arn(
            "arn:aws:mpa:us-east-1:111122223333:approval-team/Team_1.x"
        ));
        assert!(is_mpa_team_arn(
            "arn:aws-cn:mpa:cn-north-1:111122223333:approval-team/t"
        ));
        assert!(!is_mpa_team_arn(
            "arn:aws:mpa:us-east-1:1111:approval-team/t"
        ));
        assert!(!is_mpa_team_arn(
            "arn:aws:kms:us-east-1:111122223333:approval-team/t"
        ));
        assert!(!is_mpa_team_arn(
            "arn:aws:mpa:us-east-1:111122223333:approval-team/"
        ));
        assert!(is_email("a.b+c@example.co.uk"));
        assert!(!is_email("a@b..c"));
        assert!(!is_email("@b"));
        assert!(is_policy_text("{\"a\":\t\"é\"}"));
        assert!(!is_policy_text("\u{1}"));
        assert!(!is_policy_text("€"));
    }

    #[test]
    fn public_policies() {
        assert!(check_policy("{}").is_ok());
        assert!(check_policy("[]").is_err());
        assert!(check_policy("nope").is_err());
        let public = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"}]}"#;
        assert_eq!(
            check_policy(public).unwrap_err().code(),
            "PublicPolicyException"
        );
        let cond = r#"{"Statement":{"Effect":"Allow","Principal":"*","Condition":{}}}"#;
        assert!(check_policy(cond).is_ok());
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*"}]}"#;
        assert!(check_policy(deny).is_ok());
    }

    #[test]
    fn csr_round_trip() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let alg = &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
        let spki = kp.public_key().as_der().unwrap().as_ref().to_vec();
        let subject = Subject {
            parts: vec![
                (OID_C, "US".into()),
                (OID_CN, "paycrypt test".into()),
                (OID_EMAIL, "a@b.c".into()),
            ],
        };
        let s = signer(KeyAlgorithm::EccNistP256, "SHA256").unwrap();
        let der = build_csr(pkcs8.as_ref(), &spki, &subject, &s).unwrap();
        let req = CertReq::from_der(&der).unwrap();
        assert_eq!(
            req.info.subject.to_string(),
            "EMAIL=a@b.c,CN=paycrypt test,C=US"
        );
        let tbs = req.info.to_der().unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
            kp.public_key().as_ref(),
        )
        .verify(&tbs, req.signature.raw_bytes())
        .unwrap();
        assert!(signer(KeyAlgorithm::Rsa2048, "SHA224").is_err());
        assert!(signer(KeyAlgorithm::EccNistP256, "SHA512").is_err());
    }
}
