//! Input validation: the AWS Payment Cryptography attribute rules ("keys-validattributes"),
//! constrained string shapes (alias names, ARNs, tags) and pagination tokens.

use crate::error::StoreError;
use crate::model::{KeyAlgorithm, KeyAttributes, KeyClass, KeyUsage, Tag};

/// Where a key comes from; the allowed `KeyClass` depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// `CreateKey`: generated here.
    Create,
    /// `ImportKey`: material supplied by the caller.
    Import,
}

/// The TR-31 mode letters allowed for a usage (B={E,D,W,U}, E={E,W}, D={D,U}, X={DeriveKey},
/// N={NoRestrictions}, G, V, C={G,V}, S={Sign}).
fn allowed_modes(usage: KeyUsage, class: KeyClass) -> &'static str {
    use KeyUsage as U;
    match usage {
        U::B0BaseDerivationKey
        | U::E0EmvMkeyAppCryptograms
        | U::E1EmvMkeyConfidentiality
        | U::E2EmvMkeyIntegrity
        | U::E4EmvMkeyDynamicNumbers
        | U::E5EmvMkeyCardPersonalization
        | U::E6EmvMkeyOther => "XN",
        U::C0CardVerificationKey
        | U::M1Iso9797_1MacKey
        | U::M3Iso9797_3MacKey
        | U::M6Iso9797_5CmacKey
        | U::M7HmacKey
        | U::V1Ibm3624PinVerificationKey
        | U::V2VisaPinVerificationKey => "GVCN",
        U::M0Iso16609MacKey => "GVC",
        U::D0SymmetricDataEncryptionKey
        | U::K0KeyEncryptionKey
        | U::K1KeyBlockProtectionKey
        | U::P0PinEncryptionKey => "BEDN",
        // An imported public key can only encrypt/wrap.
        U::D1AsymmetricKeyForDataEncryption if class == KeyClass::PublicKey => "E",
        U::D1AsymmetricKeyForDataEncryption => "BED",
        // Imported roots / trusted certificates can only verify.
        U::S0AsymmetricKeyForDigitalSignature if class == KeyClass::PublicKey => "V",
        U::S0AsymmetricKeyForDigitalSignature => "SV",
        U::K3AsymmetricKeyForKeyAgreement => "X",
        U::K2Tr34AsymmetricKey if class == KeyClass::PublicKey => "XE",
        U::K2Tr34AsymmetricKey => "XBED",
        U::P1PinGenerationKey => "",
    }
}

fn allowed_algorithm(usage: KeyUsage, alg: KeyAlgorithm) -> bool {
    use KeyUsage as U;
    let sym = alg.is_tdes() || alg.is_aes();
    match usage {
        U::B0BaseDerivationKey
        | U::C0CardVerificationKey
        | U::D0SymmetricDataEncryptionKey
        | U::E0EmvMkeyAppCryptograms
        | U::E1EmvMkeyConfidentiality
        | U::E2EmvMkeyIntegrity
        | U::E4EmvMkeyDynamicNumbers
        | U::E5EmvMkeyCardPersonalization
        | U::E6EmvMkeyOther
        | U::K0KeyEncryptionKey
        | U::K1KeyBlockProtectionKey
        | U::M6Iso9797_5CmacKey
        | U::P0PinEncryptionKey
        | U::V1Ibm3624PinVerificationKey
        | U::V2VisaPinVerificationKey => sym,
        U::M7HmacKey => sym || alg.is_hmac(),
        U::M0Iso16609MacKey | U::M1Iso9797_1MacKey | U::M3Iso9797_3MacKey => alg.is_tdes(),
        U::D1AsymmetricKeyForDataEncryption | U::K2Tr34AsymmetricKey => alg.is_rsa(),
        U::S0AsymmetricKeyForDigitalSignature => alg.is_rsa() || alg.is_ecc(),
        U::K3AsymmetricKeyForKeyAgreement => alg.is_ecc(),
        U::P1PinGenerationKey => false,
    }
}

fn is_symmetric_usage(usage: KeyUsage) -> bool {
    use KeyUsage as U;
    !matches!(
        usage,
        U::D1AsymmetricKeyForDataEncryption
            | U::S0AsymmetricKeyForDigitalSignature
            | U::K3AsymmetricKeyForKeyAgreement
            | U::K2Tr34AsymmetricKey
    )
}

/// Check `KeyAttributes` (+ `DeriveKeyUsage`) against the AWS "valid key attributes" table
/// (AWS Payment Cryptography User Guide, keys-validattributes): the algorithm must be allowed
/// for the usage, the modes of use must be exactly one of the allowed sets, and the key class
/// must match (SYMMETRIC_KEY for symmetric usages; ASYMMETRIC_KEY_PAIR when created here,
/// PUBLIC_KEY when imported, for asymmetric usages).
///
/// # Errors
/// [`StoreError::Validation`] naming what is wrong.
pub fn check_attributes(
    attrs: &KeyAttributes,
    derive_key_usage: Option<KeyUsage>,
    provenance: Provenance,
) -> Result<(), StoreError> {
    let usage = attrs.key_usage;
    let alg = attrs.key_algorithm;
    let class = attrs.key_class;
    if usage == KeyUsage::P1PinGenerationKey {
        return Err(StoreError::validation(
            "KeyUsage TR31_P1_PIN_GENERATION_KEY is not currently supported",
        ));
    }
    if !allowed_algorithm(usage, alg) {
        return Err(StoreError::validation(format!(
            "KeyAlgorithm {alg} is not valid for KeyUsage {usage}"
        )));
    }
    let class_ok = if is_symmetric_usage(usage) {
        class == KeyClass::SymmetricKey
    } else {
        match provenance {
            Provenance::Create => class == KeyClass::AsymmetricKeyPair,
            Provenance::Import => class == KeyClass::PublicKey,
        }
    };
    if !class_ok {
        return Err(StoreError::validation(format!(
            "KeyClass {class} is not valid for KeyUsage {usage} with KeyAlgorithm {alg}"
        )));
    }
    let allowed = allowed_modes(usage, class);
    match attrs.key_modes_of_use.tr31_mode() {
        Some(letter) if allowed.contains(letter) => {}
        _ => {
            return Err(StoreError::validation(format!(
                "KeyModesOfUse is not a valid combination for KeyUsage {usage}; allowed: {}",
                describe_modes(allowed)
            )))
        }
    }
    match (usage, derive_key_usage) {
        (KeyUsage::K3AsymmetricKeyForKeyAgreement, _) | (_, None) => {}
        (_, Some(_)) => {
            return Err(StoreError::validation(
                "DeriveKeyUsage is only valid for TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT keys",
            ))
        }
    }
    if let Some(d) = derive_key_usage {
        if !is_derive_key_usage(d) {
            return Err(StoreError::validation(format!(
                "DeriveKeyUsage {d} is not a valid derived-key usage"
            )));
        }
    }
    Ok(())
}

/// The members of the AWS `DeriveKeyUsage` enum (symmetric usages except M0 and P1... per model).
fn is_derive_key_usage(u: KeyUsage) -> bool {
    is_symmetric_usage(u) && !matches!(u, KeyUsage::M0Iso16609MacKey)
}

fn describe_modes(letters: &str) -> String {
    let names: Vec<&str> = letters
        .chars()
        .map(|c| match c {
            'B' => "{Encrypt,Decrypt,Wrap,Unwrap}",
            'E' => "{Encrypt,Wrap}",
            'D' => "{Decrypt,Unwrap}",
            'X' => "{DeriveKey}",
            'N' => "{NoRestrictions}",
            'G' => "{Generate}",
            'V' => "{Verify}",
            'C' => "{Generate,Verify}",
            'S' => "{Sign}",
            _ => "?",
        })
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Check an AWS `Region` (`[a-z]{2}-[a-z]{1,16}-[0-9]+`).
pub fn is_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    a.len() == 2
        && a.bytes().all(|b| b.is_ascii_lowercase())
        && (1..=16).contains(&b.len())
        && b.bytes().all(|b| b.is_ascii_lowercase())
        && !c.is_empty()
        && c.bytes().all(|b| b.is_ascii_digit())
}

/// Check a 12-digit account id.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Check an `AliasName`: 7..256 chars, `alias/[a-zA-Z0-9/_-]+`.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_alias_name(name: &str) -> Result<(), StoreError> {
    let ok = (7..=256).contains(&name.len())
        && name.strip_prefix("alias/").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::validation(
            "AliasName must match alias/[a-zA-Z0-9/_-]+ and be 7 to 256 characters long",
        ))
    }
}

/// The key-id part of a key ARN: `[0-9a-zA-Z]{16,64}`.
fn is_key_id(s: &str) -> bool {
    (16..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A parsed `KeyArnOrKeyAliasType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier<'a> {
    /// A key ARN (region/account as given).
    KeyArn {
        /// The whole ARN.
        arn: &'a str,
        /// Region.
        region: &'a str,
        /// Account.
        account: &'a str,
    },
    /// An alias name `alias/...` (possibly given as an alias ARN).
    Alias {
        /// `alias/...`.
        name: &'a str,
        /// Region and account when given as an ARN.
        scope: Option<(&'a str, &'a str)>,
    },
}

const ARN_PREFIX: &str = "arn:aws:payment-cryptography:";

/// Parse a `KeyArnOrKeyAliasType` (7..322 chars).
///
/// # Errors
/// [`StoreError::Validation`] if it matches neither a key ARN, an alias ARN nor an alias name.
pub fn parse_identifier(s: &str) -> Result<Identifier<'_>, StoreError> {
    let bad = || {
        StoreError::validation(
            "KeyIdentifier must be a key ARN, an alias ARN or an alias name (alias/...)",
        )
    };
    if !(7..=322).contains(&s.len()) {
        return Err(bad());
    }
    if s.starts_with("alias/") {
        check_alias_name(s).map_err(|_| bad())?;
        return Ok(Identifier::Alias {
            name: s,
            scope: None,
        });
    }
    let rest = s.strip_prefix(ARN_PREFIX).ok_or_else(bad)?;
    let mut it = rest.splitn(3, ':');
    let (Some(region), Some(account), Some(resource)) = (it.next(), it.next(), it.next()) else {
        return Err(bad());
    };
    if !is_region(region) || !is_account(account) {
        return Err(bad());
    }
    if let Some(id) = resource.strip_prefix("key/") {
        if is_key_id(id) {
            return Ok(Identifier::KeyArn {
                arn: s,
                region,
                account,
            });
        }
        return Err(bad());
    }
    if resource.starts_with("alias/") {
        check_alias_name(resource).map_err(|_| bad())?;
        return Ok(Identifier::Alias {
            name: resource,
            scope: Some((region, account)),
        });
    }
    Err(bad())
}

/// Check a `KeyArn`/`ResourceArn` (70..150 chars, key ARN pattern); returns (region, account).
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_key_arn<'a>(field: &str, s: &'a str) -> Result<(&'a str, &'a str), StoreError> {
    match parse_identifier(s) {
        Ok(Identifier::KeyArn {
            region, account, ..
        }) if (70..=150).contains(&s.len()) => Ok((region, account)),
        _ => Err(StoreError::validation(format!(
            "{field} must be a key ARN (arn:aws:payment-cryptography:<region>:<account>:key/<id>)"
        ))),
    }
}

/// Maximum tags per resource.
pub const MAX_TAGS: usize = 200;

/// Check one tag: key 1..128 characters, value 0..256 characters.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_tag(t: &Tag) -> Result<(), StoreError> {
    check_tag_key(&t.key)?;
    if t.value.chars().count() > 256 {
        return Err(StoreError::validation(
            "tag Value must be at most 256 characters",
        ));
    }
    Ok(())
}

/// Check a tag key: 1..128 characters.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_tag_key(k: &str) -> Result<(), StoreError> {
    let n = k.chars().count();
    if n == 0 || n > 128 {
        return Err(StoreError::validation(
            "tag Key must be 1 to 128 characters",
        ));
    }
    Ok(())
}

/// Check a list of tags given in one request: each valid, keys unique, at most 200.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn check_tags(tags: &[Tag]) -> Result<(), StoreError> {
    if tags.len() > MAX_TAGS {
        return Err(StoreError::validation("at most 200 tags are allowed"));
    }
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        check_tag(t)?;
        if !seen.insert(t.key.as_str()) {
            return Err(StoreError::validation(format!(
                "duplicate tag key {:?}",
                t.key
            )));
        }
    }
    Ok(())
}

/// `MaxResults` 1..100, default 50.
///
/// # Errors
/// [`StoreError::Validation`].
pub fn page_size(max_results: Option<u32>) -> Result<usize, StoreError> {
    match max_results {
        None => Ok(50),
        Some(n @ 1..=100) => Ok(n as usize),
        Some(_) => Err(StoreError::validation(
            "MaxResults must be between 1 and 100",
        )),
    }
}

/// Pagination token kinds (a token from one list operation is refused by another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// ListKeys.
    Keys,
    /// ListAliases.
    Aliases,
    /// ListTagsForResource.
    Tags,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Keys => "pck1",
            Self::Aliases => "pca1",
            Self::Tags => "pct1",
        }
    }
}

/// Make an opaque `NextToken`: a kind prefix and the hex of the last item's sort key.
pub fn make_token(kind: TokenKind, last: &str) -> String {
    let mut s = String::with_capacity(4 + 2 * last.len());
    s.push_str(kind.prefix());
    s.push_str(&paycrypt_core::hex::encode(last.as_bytes()));
    s
}

/// Decode a `NextToken` made by [`make_token`] for the same kind.
///
/// # Errors
/// [`StoreError::Validation`] on any other string.
pub fn parse_token(kind: TokenKind, token: &str) -> Result<String, StoreError> {
    let bad = || StoreError::validation("NextToken is invalid");
    if token.is_empty() || token.len() > 8192 {
        return Err(bad());
    }
    let hex = token.strip_prefix(kind.prefix()).ok_or_else(bad)?;
    if hex.is_empty() || hex.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(bad());
    }
    let bytes = paycrypt_core::hex::decode("NextToken", hex).map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let ok = match kind {
        TokenKind::Keys => check_key_arn("NextToken", &s).is_ok(),
        TokenKind::Aliases => check_alias_name(&s).is_ok(),
        TokenKind::Tags => check_tag_key(&s).is_ok(),
    };
    if ok {
        Ok(s)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let arn = "arn:aws:payment-cryptography:us-east-2:111122223333:key/abcdefghijklmnop";
        assert!(matches!(
            parse_identifier(arn),
            Ok(Identifier::KeyArn {
                region: "us-east-2",
                account: "111122223333",
                ..
            })
        ));
        assert!(matches!(
            parse_identifier("alias/my-key_1/x"),
            Ok(Identifier::Alias {
                name: "alias/my-key_1/x",
                scope: None
            })
        ));
        let aarn = "arn:aws:payment-cryptography:us-east-2:111122223333:alias/abc";
        assert!(matches!(
            parse_identifier(aarn),
            Ok(Identifier::Alias {
                name: "alias/abc",
                scope: Some(("us-east-2", "111122223333"))
            })
        ));
        for bad in [
            "",
            "alias/",
            "alias/a b",
            "key/abcdefghijklmnop",
            "arn:aws:payment-cryptography:us-east-2:11112222333:key/abcdefghijklmnop",
            "arn:aws:payment-cryptography:us-east-2:111122223333:key/short",
            "arn:aws:kms:us-east-2:111122223333:key/abcdefghijklmnop",
            "arn:aws:payment-cryptography:US-east-2:111122223333:key/abcdefghijklmnop",
        ] {
            assert!(
                matches!(parse_identifier(bad), Err(StoreError::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens() {
        let t = make_token(TokenKind::Aliases, "alias/x-y");
        assert_eq!(parse_token(TokenKind::Aliases, &t).unwrap(), "alias/x-y");
        assert!(parse_token(TokenKind::Keys, &t).is_err());
        for bad in [
            "", "garbage", "pca1", "pca1zz", "pca1414", "pca1ff00", "pca161",
        ] {
            assert!(parse_token(TokenKind::Aliases, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions() {
        assert!(is_region("us-east-1"));
        assert!(is_region("ap-southeast-2"));
        assert!(!is_region("us-east"));
        assert!(!is_region("us-east-1-x"));
        assert!(!is_region("USA-east-1"));
    }
}
