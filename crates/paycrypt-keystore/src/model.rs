//! The key model of the AWS Payment Cryptography control plane, with the exact
//! wire names (serde renames) so the server can serialize these types directly.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in model order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }

            /// Parse a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some(Self::$variant),)+ _ => None }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// TR-31 key usage, as AWS `KeyUsage` names it.
    KeyUsage {
        /// B0: base derivation key (DUKPT BDK).
        B0BaseDerivationKey = "TR31_B0_BASE_DERIVATION_KEY",
        /// C0: card verification key (CVV, CSC).
        C0CardVerificationKey = "TR31_C0_CARD_VERIFICATION_KEY",
        /// D0: symmetric data encryption key.
        D0SymmetricDataEncryptionKey = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        /// D1: asymmetric key for data encryption.
        D1AsymmetricKeyForDataEncryption = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        /// E0: EMV master key for application cryptograms.
        E0EmvMkeyAppCryptograms = "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
        /// E1: EMV master key for secure messaging confidentiality.
        E1EmvMkeyConfidentiality = "TR31_E1_EMV_MKEY_CONFIDENTIALITY",
        /// E2: EMV master key for secure messaging integrity.
        E2EmvMkeyIntegrity = "TR31_E2_EMV_MKEY_INTEGRITY",
        /// E4: EMV master key for dynamic numbers (CVC3).
        E4EmvMkeyDynamicNumbers = "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
        /// E5: EMV master key for card personalization.
        E5EmvMkeyCardPersonalization = "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION",
        /// E6: EMV master key, other (dCVV, CAVV).
        E6EmvMkeyOther = "TR31_E6_EMV_MKEY_OTHER",
        /// K0: key encryption key.
        K0KeyEncryptionKey = "TR31_K0_KEY_ENCRYPTION_KEY",
        /// K1: TR-31 key block protection key.
        K1KeyBlockProtectionKey = "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        /// K3: asymmetric key for key agreement (ECDH).
        K3AsymmetricKeyForKeyAgreement = "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
        /// M0: ISO 16609 MAC key (AS2805).
        M0Iso16609MacKey = "TR31_M0_ISO_16609_MAC_KEY",
        /// M3: ISO 9797-1 algorithm 3 MAC key.
        M3Iso9797_3MacKey = "TR31_M3_ISO_9797_3_MAC_KEY",
        /// M1: ISO 9797-1 algorithm 1 MAC key.
        M1Iso9797_1MacKey = "TR31_M1_ISO_9797_1_MAC_KEY",
        /// M6: ISO 9797-1 algorithm 5 (CMAC) key.
        M6Iso9797_5CmacKey = "TR31_M6_ISO_9797_5_CMAC_KEY",
        /// M7: HMAC key.
        M7HmacKey = "TR31_M7_HMAC_KEY",
        /// P0: PIN encryption key.
        P0PinEncryptionKey = "TR31_P0_PIN_ENCRYPTION_KEY",
        /// P1: PIN generation key.
        P1PinGenerationKey = "TR31_P1_PIN_GENERATION_KEY",
        /// S0: asymmetric key for digital signature.
        S0AsymmetricKeyForDigitalSignature = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        /// V1: IBM 3624 PIN verification key.
        V1Ibm3624PinVerificationKey = "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        /// V2: Visa PIN verification key.
        V2VisaPinVerificationKey = "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        /// K2: TR-34 asymmetric key.
        K2Tr34AsymmetricKey = "TR31_K2_TR34_ASYMMETRIC_KEY",
    }
);

wire_enum!(
    /// AWS `KeyClass`.
    KeyClass {
        /// A symmetric key.
        SymmetricKey = "SYMMETRIC_KEY",
        /// An asymmetric key pair created in the service.
        AsymmetricKeyPair = "ASYMMETRIC_KEY_PAIR",
        /// A private key.
        PrivateKey = "PRIVATE_KEY",
        /// A public key (imported certificate).
        PublicKey = "PUBLIC_KEY",
    }
);

wire_enum!(
    /// AWS `KeyAlgorithm`.
    KeyAlgorithm {
        /// Two-key TDES.
        Tdes2Key = "TDES_2KEY",
        /// Three-key TDES.
        Tdes3Key = "TDES_3KEY",
        /// AES-128.
        Aes128 = "AES_128",
        /// AES-192.
        Aes192 = "AES_192",
        /// AES-256.
        Aes256 = "AES_256",
        /// HMAC-SHA-256 key.
        HmacSha256 = "HMAC_SHA256",
        /// HMAC-SHA-384 key.
        HmacSha384 = "HMAC_SHA384",
        /// HMAC-SHA-512 key.
        HmacSha512 = "HMAC_SHA512",
        /// HMAC-SHA-224 key.
        HmacSha224 = "HMAC_SHA224",
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// ECC P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// ECC P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// ECC P-521.
        EccNistP521 = "ECC_NIST_P521",
    }
);

impl KeyAlgorithm {
    /// Whether the algorithm is a symmetric one (TDES, AES, HMAC).
    pub fn is_symmetric(self) -> bool {
        !self.is_rsa() && !self.is_ecc()
    }

    /// RSA?
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// ECC?
    pub fn is_ecc(self) -> bool {
        matches!(
            self,
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521
        )
    }

    /// TDES?
    pub fn is_tdes(self) -> bool {
        matches!(self, Self::Tdes2Key | Self::Tdes3Key)
    }

    /// AES?
    pub fn is_aes(self) -> bool {
        matches!(self, Self::Aes128 | Self::Aes192 | Self::Aes256)
    }

    /// HMAC?
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            Self::HmacSha224 | Self::HmacSha256 | Self::HmacSha384 | Self::HmacSha512
        )
    }

    /// Length in bytes of freshly generated symmetric key material (HMAC keys use the digest's block size per AWS? here: digest length).
    pub fn symmetric_key_len(self) -> Option<usize> {
        Some(match self {
            Self::Tdes2Key | Self::Aes128 => 16,
            Self::Tdes3Key | Self::Aes192 => 24,
            Self::Aes256 => 32,
            Self::HmacSha224 => 28,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
            _ => return None,
        })
    }

    /// The block cipher of a TDES/AES key.
    pub fn cipher_algorithm(self) -> Option<paycrypt_core::cipher::Algorithm> {
        use paycrypt_core::cipher::Algorithm as A;
        Some(match self {
            Self::Tdes2Key => A::Tdes2,
            Self::Tdes3Key => A::Tdes3,
            Self::Aes128 => A::Aes128,
            Self::Aes192 => A::Aes192,
            Self::Aes256 => A::Aes256,
            _ => return None,
        })
    }

    /// Relative strength in bits, for "the wrapping key must be at least as strong" checks
    /// (NIST SP 800-57 comparable strengths).
    pub fn strength_bits(self) -> u32 {
        match self {
            Self::Tdes2Key => 80,
            Self::Tdes3Key => 112,
            Self::Aes128 | Self::Rsa3072 | Self::EccNistP256 => 128,
            Self::Aes192 | Self::EccNistP384 => 192,
            Self::Aes256 | Self::EccNistP521 => 256,
            Self::Rsa2048 => 112,
            Self::Rsa4096 => 152,
            Self::HmacSha224 => 112,
            Self::HmacSha256 => 128,
            Self::HmacSha384 => 192,
            Self::HmacSha512 => 256,
        }
    }
}

wire_enum!(
    /// AWS `KeyState`.
    KeyState {
        /// Being created.
        CreateInProgress = "CREATE_IN_PROGRESS",
        /// Usable (subject to Enabled and usage start/stop).
        CreateComplete = "CREATE_COMPLETE",
        /// Scheduled for deletion; unusable; can be restored.
        DeletePending = "DELETE_PENDING",
        /// Deleted; material destroyed.
        DeleteComplete = "DELETE_COMPLETE",
    }
);

wire_enum!(
    /// AWS `KeyOrigin`.
    KeyOrigin {
        /// Imported.
        External = "EXTERNAL",
        /// Created in the service.
        AwsPaymentCryptography = "AWS_PAYMENT_CRYPTOGRAPHY",
    }
);

wire_enum!(
    /// AWS `KeyCheckValueAlgorithm`.
    KeyCheckValueAlgorithm {
        /// CMAC over zeros (AES default).
        Cmac = "CMAC",
        /// ANSI X9.24 encrypt-zeros (TDES default).
        AnsiX9_24 = "ANSI_X9_24",
        /// HMAC of the empty message.
        Hmac = "HMAC",
        /// SHA-1.
        Sha1 = "SHA_1",
    }
);

wire_enum!(
    /// AWS `KeyExportability` (TR-31 exportability E/N/S).
    KeyExportability {
        /// Exportable under a KEK (TR-31 `E`).
        Exportable = "EXPORTABLE",
        /// Never exportable (TR-31 `N`).
        NonExportable = "NON_EXPORTABLE",
        /// Exportable only in a sensitive form (TR-31 `S`).
        Sensitive = "SENSITIVE",
    }
);

impl KeyExportability {
    /// The TR-31 (X9.143) header letter: `E`, `N` or `S`.
    pub fn tr31_code(self) -> char {
        match self {
            Self::Exportable => 'E',
            Self::NonExportable => 'N',
            Self::Sensitive => 'S',
        }
    }

    /// From a TR-31 header letter.
    pub fn from_tr31_code(c: char) -> Option<Self> {
        match c {
            'E' => Some(Self::Exportable),
            'N' => Some(Self::NonExportable),
            'S' => Some(Self::Sensitive),
            _ => None,
        }
    }

    /// Order by permissiveness: `N` (0) < `E` (1) < `S` (2).
    pub fn rank(self) -> u8 {
        match self {
            Self::NonExportable => 0,
            Self::Exportable => 1,
            Self::Sensitive => 2,
        }
    }
}

wire_enum!(
    /// AWS `MultiRegionKeyType`.
    MultiRegionKeyType {
        /// The key was created (or imported) in this region and lists replication regions.
        Primary = "PRIMARY",
        /// A replica of a key whose primary is in another region (never produced by paycrypt).
        Replica = "REPLICA",
    }
);

wire_enum!(
    /// AWS `KeyReplicationState`.
    KeyReplicationState {
        /// Replication is under way.
        InProgress = "IN_PROGRESS",
        /// The replica is being removed.
        DeleteInProgress = "DELETE_IN_PROGRESS",
        /// Replication did not happen. paycrypt reports every requested region with this state:
        /// a paycrypt deployment has one region and never copies keys elsewhere.
        Failed = "FAILED",
        /// The replica is in step with the primary.
        Synchronized = "SYNCHRONIZED",
    }
);

/// AWS `ReplicationStatusType`: the replication state of one region of a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationStatusType {
    /// The state.
    pub status: KeyReplicationState,
    /// Why (for paycrypt: that the deployment has one region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// AWS `KeyModesOfUse`: which operations a key may take part in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(clippy::struct_excessive_bools)]
pub struct KeyModesOfUse {
    /// Encrypt.
    #[serde(default)]
    pub encrypt: bool,
    /// Decrypt.
    #[serde(default)]
    pub decrypt: bool,
    /// Wrap keys.
    #[serde(default)]
    pub wrap: bool,
    /// Unwrap keys.
    #[serde(default)]
    pub unwrap: bool,
    /// Generate (MACs, CVVs, PVVs).
    #[serde(default)]
    pub generate: bool,
    /// Sign.
    #[serde(default)]
    pub sign: bool,
    /// Verify.
    #[serde(default)]
    pub verify: bool,
    /// Derive keys.
    #[serde(default)]
    pub derive_key: bool,
    /// No restrictions.
    #[serde(default)]
    pub no_restrictions: bool,
}

impl KeyModesOfUse {
    /// The TR-31 mode-of-use letter for this set, if it has one
    /// (B={E,D,W,U}, X={DeriveKey}, N={NoRestrictions}, E={E,W}, D={D,U}, C={G,V}, G={G}, V={V}, S={S}).
    pub fn tr31_mode(&self) -> Option<char> {
        let m = (
            self.encrypt,
            self.decrypt,
            self.wrap,
            self.unwrap,
            self.generate,
            self.sign,
            self.verify,
            self.derive_key,
            self.no_restrictions,
        );
        Some(match m {
            (true, true, true, true, false, false, false, false, false) => 'B',
            (false, false, false, false, false, false, false, true, false) => 'X',
            (false, false, false, false, false, false, false, false, true) => 'N',
            (true, false, true, false, false, false, false, false, false) => 'E',
            (false, true, false, true, false, false, false, false, false) => 'D',
            (false, false, false, false, true, false, true, false, false) => 'C',
            (false, false, false, false, true, false, false, false, false) => 'G',
            (false, false, false, false, false, false, true, false, false) => 'V',
            (false, false, false, false, false, true, false, false, false) => 'S',
            _ => return None,
        })
    }

    /// The set for a TR-31 mode-of-use letter.
    pub fn from_tr31_mode(c: char) -> Option<Self> {
        let mut m = Self::default();
        match c {
            'B' => {
                m.encrypt = true;
                m.decrypt = true;
                m.wrap = true;
                m.unwrap = true;
            }
            'X' => m.derive_key = true,
            'N' => m.no_restrictions = true,
            'E' => {
                m.encrypt = true;
                m.wrap = true;
            }
            'D' => {
                m.decrypt = true;
                m.unwrap = true;
            }
            'C' => {
                m.generate = true;
                m.verify = true;
            }
            'G' => m.generate = true,
            'V' => m.verify = true,
            'S' => m.sign = true,
            _ => return None,
        }
        Some(m)
    }

    /// Whether every mode of `other` is also in `self` (NoRestrictions covers everything).
    pub fn covers(&self, other: &Self) -> bool {
        if self.no_restrictions {
            return true;
        }
        (!other.encrypt || self.encrypt)
            && (!other.decrypt || self.decrypt)
            && (!other.wrap || self.wrap)
            && (!other.unwrap || self.unwrap)
            && (!other.generate || self.generate)
            && (!other.sign || self.sign)
            && (!other.verify || self.verify)
            && (!other.derive_key || self.derive_key)
            && !other.no_restrictions
    }
}

/// AWS `KeyAttributes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyAttributes {
    /// TR-31 usage.
    pub key_usage: KeyUsage,
    /// Class.
    pub key_class: KeyClass,
    /// Algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Modes of use.
    pub key_modes_of_use: KeyModesOfUse,
}

/// AWS `Tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key (1..128).
    pub key: String,
    /// Tag value (0..256).
    pub value: String,
}

/// AWS `Alias`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    /// `alias/...`.
    pub alias_name: String,
    /// The key it points at, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<String>,
}

/// AWS `Key`: the metadata of a key as the control plane returns it. Never holds key material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    /// ARN `arn:aws:payment-cryptography:<region>:<account>:key/<id>`.
    pub key_arn: String,
    /// Attributes.
    pub key_attributes: KeyAttributes,
    /// KCV (hex).
    pub key_check_value: String,
    /// How the KCV was computed.
    pub key_check_value_algorithm: KeyCheckValueAlgorithm,
    /// Whether the key may be used.
    pub enabled: bool,
    /// Whether the key may be exported.
    pub exportable: bool,
    /// Lifecycle state.
    pub key_state: KeyState,
    /// Created here or imported.
    pub key_origin: KeyOrigin,
    /// Epoch seconds.
    pub create_timestamp: f64,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_start_timestamp: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_stop_timestamp: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_pending_timestamp: Option<f64>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_timestamp: Option<f64>,
    /// For K3 keys: the usage of keys derived with ECDH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derive_key_usage: Option<KeyUsage>,
    /// `MultiRegionKeyType`: `PRIMARY` when replication regions were requested for the key
    /// (paycrypt never creates replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_key_type: Option<MultiRegionKeyType>,
    /// `PrimaryRegion`: this deployment's region, for multi-region keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// `ReplicationStatus`: one entry per requested replication region (always `FAILED` with
    /// a message: a paycrypt deployment has one region).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<std::collections::BTreeMap<String, ReplicationStatusType>>,
    /// `UsingDefaultReplicationRegions`: whether the regions came from the account's default
    /// replication regions (set for multi-region keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using_default_replication_regions: Option<bool>,
    /// The TR-31 exportability of the key (`N`, `E` or `S`, X9.143): not an AWS `Key` member,
    /// so never serialized; persisted in its own database column and bound to the sealed
    /// material. `None` for keys stored before it was recorded (then `exportable` alone decides,
    /// as `SENSITIVE` when true).
    #[serde(skip)]
    pub exportability: Option<KeyExportability>,
}

impl Key {
    /// The effective TR-31 exportability: the recorded letter, else `SENSITIVE`/`NON_EXPORTABLE`
    /// from `exportable` (keys stored before the letter was recorded). `exportable == false`
    /// always means `NON_EXPORTABLE`.
    pub fn effective_exportability(&self) -> KeyExportability {
        if !self.exportable {
            return KeyExportability::NonExportable;
        }
        self.exportability.unwrap_or(KeyExportability::Sensitive)
    }
}

/// AWS `KeySummary` (ListKeys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySummary {
    /// ARN.
    pub key_arn: String,
    /// State.
    pub key_state: KeyState,
    /// Attributes.
    pub key_attributes: KeyAttributes,
    /// KCV.
    pub key_check_value: String,
    /// Exportable.
    pub exportable: bool,
    /// Enabled.
    pub enabled: bool,
    /// `MultiRegionKeyType` (as on [`Key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_key_type: Option<MultiRegionKeyType>,
    /// `PrimaryRegion` (as on [`Key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

impl From<&Key> for KeySummary {
    fn from(k: &Key) -> Self {
        Self {
            key_arn: k.key_arn.clone(),
            key_state: k.key_state,
            key_attributes: k.key_attributes,
            key_check_value: k.key_check_value.clone(),
            exportable: k.exportable,
            enabled: k.enabled,
            multi_region_key_type: k.multi_region_key_type,
            primary_region: k.primary_region.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        let a = KeyAttributes {
            key_usage: KeyUsage::P0PinEncryptionKey,
            key_class: KeyClass::SymmetricKey,
            key_algorithm: KeyAlgorithm::Tdes2Key,
            key_modes_of_use: KeyModesOfUse::from_tr31_mode('B').unwrap(),
        };
        let j = serde_json::to_string(&a).unwrap();
        assert!(j.contains(r#""KeyUsage":"TR31_P0_PIN_ENCRYPTION_KEY""#));
        assert!(j.contains(r#""Encrypt":true"#));
        let back: KeyAttributes = serde_json::from_str(&j).unwrap();
        assert_eq!(back, a);
        for u in KeyUsage::ALL {
            assert_eq!(KeyUsage::parse(u.as_str()), Some(*u));
        }
    }

    #[test]
    fn modes() {
        for c in "BXNEDCGVS".chars() {
            assert_eq!(
                KeyModesOfUse::from_tr31_mode(c).unwrap().tr31_mode(),
                Some(c)
            );
        }
        let b = KeyModesOfUse::from_tr31_mode('B').unwrap();
        assert!(b.covers(&KeyModesOfUse::from_tr31_mode('E').unwrap()));
        assert!(!b.covers(&KeyModesOfUse::from_tr31_mode('G').unwrap()));
    }
}
