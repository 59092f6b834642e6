//! Schema 3: account-level settings (default replication regions, MPA team associations,
//! resource policies), per-key replication regions and the recorded TR-31 exportability.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use paycrypt_keystore::model::*;
use paycrypt_keystore::{KeyOptions, MasterKeySource, Store, StoreConfig, StoreError};
use std::path::Path;

const TEAM: &str = "arn:aws:mpa:us-east-2:111122223333:approval-team/team1";
const ACTION: &str = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE";

fn open(dir: &Path) -> Store {
    let mk = dir.join("mk.hex");
    if !mk.exists() {
        std::fs::write(&mk, paycrypt_core::hex::encode(&[0x33; 32])).unwrap();
    }
    Store::open(StoreConfig {
        data_dir: dir.to_path_buf(),
        database_url: None,
        master_key: MasterKeySource::File(mk),
        region: REGION.into(),
        account: ACCOUNT.into(),
    })
    .unwrap()
}

fn regions(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn tdes() -> Vec<u8> {
    paycrypt_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap()
}

#[test]
fn exportability_is_recorded_and_defaults() {
    let s = Store::open_in_memory(REGION, ACCOUNT).unwrap();
    // CreateKey: exportable -> SENSITIVE, not exportable -> NON_EXPORTABLE.
    let k = s.create_key(bdk()).unwrap();
    assert_eq!(k.exportability, Some(KeyExportability::Sensitive));
    assert_eq!(k.effective_exportability(), KeyExportability::Sensitive);
    let mut r = bdk();
    r.exportable = false;
    let k = s.create_key(r).unwrap();
    assert_eq!(k.exportability, Some(KeyExportability::NonExportable));
    // Import with the block's letter.
    let mut r = import_req(
        KeyUsage::P0PinEncryptionKey,
        KeyAlgorithm::Tdes2Key,
        'B',
        &tdes(),
    );
    r.exportable = true;
    let k = s
        .import_key_with(
            r.clone(),
            KeyOptions::new(None, Some(KeyExportability::Exportable)),
        )
        .unwrap();
    assert_eq!(k.exportability, Some(KeyExportability::Exportable));
    assert!(k.exportable);
    // NON_EXPORTABLE wins over exportable = true; exportable = false wins over a letter.
    let k = s
        .import_key_with(
            r.clone(),
            KeyOptions::new(None, Some(KeyExportability::NonExportable)),
        )
        .unwrap();
    assert!(!k.exportable);
    r.exportable = false;
    let k = s
        .import_key_with(r, KeyOptions::new(None, Some(KeyExportability::Sensitive)))
        .unwrap();
    assert_eq!(k.effective_exportability(), KeyExportability::NonExportable);
    // Never part of the AWS Key shape.
    let json = serde_json::to_string(&k).unwrap();
    assert!(!json.contains("xportability"), "{json}");
}

#[test]
fn key_replication_regions() {
    let s = Store::open_in_memory(REGION, ACCOUNT).unwrap();
    let plain = s.create_key(bdk()).unwrap();
    assert_eq!(plain.multi_region_key_type, None);
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("ReplicationStatus").is_none());

    let k = s
        .create_key_with(
            bdk(),
            KeyOptions::new(Some(regions(&["eu-west-1", "ap-south-1"])), None),
        )
        .unwrap();
    assert_eq!(k.multi_region_key_type, Some(MultiRegionKeyType::Primary));
    assert_eq!(k.primary_region.as_deref(), Some(REGION));
    assert_eq!(k.using_default_replication_regions, Some(false));
    let st = k.replication_status.as_ref().unwrap();
    assert_eq!(st.len(), 2);
    for v in st.values() {
        assert_eq!(v.status, KeyReplicationState::Failed);
        assert!(v.status_message.as_ref().unwrap().contains("one region"));
    }
    let json = serde_json::to_value(&k).unwrap();
    assert_eq!(json["ReplicationStatus"]["eu-west-1"]["Status"], "FAILED");
    assert_eq!(json["MultiRegionKeyType"], "PRIMARY");
    assert_eq!(json["PrimaryRegion"], REGION);
    assert_eq!(json["UsingDefaultReplicationRegions"], false);
    let (list, _) = s.list_keys(None, None, None).unwrap();
    assert!(list
        .iter()
        .any(|x| x.key_arn == k.key_arn && x.multi_region_key_type.is_some()));

    let k2 = s
        .change_key_replication_regions(&k.key_arn, true, &regions(&["us-west-2"]))
        .unwrap();
    assert_eq!(k2.replication_status.as_ref().unwrap().len(), 3);
    let k3 = s
        .change_key_replication_regions(
            &k.key_arn,
            false,
            &regions(&["eu-west-1", "ap-south-1", "us-west-2", "sa-east-1"]),
        )
        .unwrap();
    assert_eq!(k3.multi_region_key_type, None);
    assert_eq!(k3.replication_status, None);

    // Own region and malformed regions are refused.
    for bad in [REGION, "EU-WEST-1", "nowhere"] {
        assert!(matches!(
            s.change_key_replication_regions(&k.key_arn, true, &regions(&[bad])),
            Err(StoreError::Validation(_))
        ));
    }
    // Only CREATE_COMPLETE keys.
    s.delete_key(&k.key_arn, None).unwrap();
    assert!(matches!(
        s.change_key_replication_regions(&k.key_arn, true, &regions(&["eu-west-1"])),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn default_regions_apply_to_new_keys() {
    let s = Store::open_in_memory(REGION, ACCOUNT).unwrap();
    assert!(s.default_replication_regions().is_empty());
    assert_eq!(
        s.update_default_replication_regions(true, &regions(&["us-west-2", "eu-west-1"]))
            .unwrap(),
        regions(&["eu-west-1", "us-west-2"])
    );
    let k = s.create_key(bdk()).unwrap();
    assert_eq!(k.using_default_replication_regions, Some(true));
    assert_eq!(k.replication_status.as_ref().unwrap().len(), 2);
    // Explicit (even empty) regions override the defaults.
    let k = s
        .create_key_with(bdk(), KeyOptions::new(Some(Vec::new()), None))
        .unwrap();
    assert_eq!(k.multi_region_key_type, None);
    assert_eq!(
        s.update_default_replication_regions(false, &regions(&["us-west-2", "ca-central-1"]))
            .unwrap(),
        regions(&["eu-west-1"])
    );
    assert!(matches!(
        s.update_default_replication_regions(true, &regions(&[REGION])),
        Err(StoreError::Validation(_))
    ));
}

#[test]
fn policies_and_mpa_teams() {
    let s = Store::open_in_memory(REGION, ACCOUNT).unwrap();
    let k = s.create_key(bdk()).unwrap();
    let missing = k.key_arn.replace(&k.key_arn[k.key_arn.len() - 4..], "zzzz");
    assert!(matches!(
        s.get_resource_policy(&k.key_arn),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.put_resource_policy(&missing, "{}"),
        Err(StoreError::NotFound { .. })
    ));
    s.put_resource_policy(&k.key_arn, "{\"a\": 1}").unwrap();
    s.put_resource_policy(&k.key_arn, "{\"b\": 2}").unwrap();
    assert_eq!(s.get_resource_policy(&k.key_arn).unwrap(), "{\"b\": 2}");
    s.delete_resource_policy(&k.key_arn).unwrap();
    assert!(matches!(
        s.delete_resource_policy(&k.key_arn),
        Err(StoreError::NotFound { .. })
    ));

    assert!(matches!(
        s.mpa_team(ACTION),
        Err(StoreError::NotFound { .. })
    ));
    s.associate_mpa_team(ACTION, TEAM).unwrap();
    assert!(matches!(
        s.associate_mpa_team(ACTION, TEAM),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.mpa_team(ACTION).unwrap(), TEAM);
    assert_eq!(s.disassociate_mpa_team(ACTION).unwrap(), TEAM);
    assert!(matches!(
        s.disassociate_mpa_team(ACTION),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn everything_persists_in_sqlite_and_exportability_is_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let (e_key, r_key) = {
        let s = open(dir.path());
        s.update_default_replication_regions(true, &regions(&["eu-west-1"]))
            .unwrap();
        let mut r = import_req(
            KeyUsage::P0PinEncryptionKey,
            KeyAlgorithm::Tdes2Key,
            'B',
            &tdes(),
        );
        r.exportable = true;
        let e = s
            .import_key_with(
                r,
                KeyOptions::new(Some(Vec::new()), Some(KeyExportability::Exportable)),
            )
            .unwrap();
        let k = s.create_key(bdk()).unwrap();
        let k = s
            .change_key_replication_regions(&k.key_arn, true, &regions(&["us-west-2"]))
            .unwrap();
        s.put_resource_policy(&k.key_arn, "{}").unwrap();
        s.associate_mpa_team(ACTION, TEAM).unwrap();
        (e, k)
    };
    {
        let s = open(dir.path());
        assert!(s.integrity_failures().is_empty());
        assert_eq!(s.get_key(&e_key.key_arn).unwrap(), e_key);
        assert_eq!(
            s.get_key(&e_key.key_arn).unwrap().exportability,
            Some(KeyExportability::Exportable)
        );
        assert_eq!(s.get_key(&r_key.key_arn).unwrap(), r_key);
        assert_eq!(s.default_replication_regions(), regions(&["eu-west-1"]));
        assert_eq!(s.get_resource_policy(&r_key.key_arn).unwrap(), "{}");
        assert_eq!(s.mpa_team(ACTION).unwrap(), TEAM);
        assert!(s.key_for_use(&e_key.key_arn).is_ok());
    }
    // Widening E to S in the database breaks the seal (the letter is bound to the material).
    let c = rusqlite::Connection::open(dir.path().join("paycrypt.db")).unwrap();
    c.execute(
        "UPDATE keys SET exportability = 'SENSITIVE' WHERE arn = ?1",
        [&e_key.key_arn],
    )
    .unwrap();
    let v: i64 = c
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 3);
    drop(c);
    let s = open(dir.path());
    assert_eq!(s.integrity_failures().len(), 1);
    assert!(matches!(
        s.key_for_use(&e_key.key_arn),
        Err(StoreError::Internal(_))
    ));
    assert!(s.key_for_use(&r_key.key_arn).is_ok());
}
