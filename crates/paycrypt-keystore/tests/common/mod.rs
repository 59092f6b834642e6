#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use paycrypt_keystore::model::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage};
use paycrypt_keystore::{CreateKeyRequest, ImportKeyRequest};

pub const REGION: &str = "us-east-2";
pub const ACCOUNT: &str = "111122223333";

pub fn attrs(usage: KeyUsage, alg: KeyAlgorithm, mode: char) -> KeyAttributes {
    KeyAttributes {
        key_usage: usage,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: alg,
        key_modes_of_use: KeyModesOfUse::from_tr31_mode(mode).unwrap(),
    }
}

pub fn create_req(usage: KeyUsage, alg: KeyAlgorithm, mode: char) -> CreateKeyRequest {
    CreateKeyRequest {
        key_attributes: attrs(usage, alg, mode),
        key_check_value_algorithm: None,
        exportable: true,
        enabled: None,
        tags: Vec::new(),
        derive_key_usage: None,
    }
}

pub fn import_req(
    usage: KeyUsage,
    alg: KeyAlgorithm,
    mode: char,
    material: &[u8],
) -> ImportKeyRequest {
    ImportKeyRequest {
        key_attributes: attrs(usage, alg, mode),
        material: paycrypt_core::secret::SecretBytes::from_slice(material),
        key_check_value_algorithm: None,
        exportable: false,
        enabled: None,
        tags: Vec::new(),
    }
}

pub fn bdk() -> CreateKeyRequest {
    create_req(KeyUsage::B0BaseDerivationKey, KeyAlgorithm::Tdes2Key, 'X')
}
