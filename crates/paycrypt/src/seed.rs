//! `paycrypt admin seed-keys`: a benchmarking tool that puts many real keys into a stopped
//! server's store quickly (see `paycrypt_keystore::seed`): deterministic ids and material, so
//! `paycrypt bench --spread-keys` can address them; sealed with real KCVs like any other key.

use std::time::Instant;

use clap::Args;
use paycrypt_keystore::seed::{seed_key_id, SeedKind, MAX_SEED};
use paycrypt_keystore::Store;
use serde_json::{json, Value};

use crate::client::ClientError;

/// Options of `paycrypt admin seed-keys`.
#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Number of keys to insert.
    #[arg(long)]
    count: u64,
    /// Key kind: `mac` (TR31_M3 TDES_2KEY, Generate+Verify) or `pin` (TR31_P0 TDES_2KEY ZPK,
    /// Encrypt+Decrypt+Wrap+Unwrap).
    #[arg(long, default_value = "mac")]
    kind: String,
    /// Seed (0..46655): part of the key ids and of the derived material.
    #[arg(long, default_value_t = 1)]
    seed: u32,
    /// First key index (to add keys to an already seeded store).
    #[arg(long, default_value_t = 0)]
    start: u64,
}

/// Run the seeding on an opened store.
///
/// # Errors
/// Usage errors for bad options; the store's error otherwise.
pub fn run(store: &Store, args: &SeedArgs) -> Result<Value, ClientError> {
    let kind = SeedKind::parse(&args.kind)
        .ok_or_else(|| ClientError::usage("--kind must be mac or pin"))?;
    if args.seed > MAX_SEED {
        return Err(ClientError::usage(format!("--seed must be 0..{MAX_SEED}")));
    }
    if args.count == 0 {
        return Err(ClientError::usage("--count must be > 0"));
    }
    let t0 = Instant::now();
    let n = store
        .seed_keys(kind, args.seed, args.start, args.count, |done| {
            if done % 100_000 == 0 {
                eprintln!(
                    "seed-keys: {done} keys in {:.1} s",
                    t0.elapsed().as_secs_f64()
                );
            }
        })
        .map_err(|e| ClientError::Server {
            code: "StoreError".into(),
            message: e.to_string(),
        })?;
    let secs = t0.elapsed().as_secs_f64();
    let first = seed_key_id(kind, args.seed, args.start).unwrap_or_default();
    Ok(json!({
        "KeysWritten": n,
        "Kind": kind.name(),
        "Seed": args.seed,
        "FirstKeyArn": format!(
            "arn:aws:payment-cryptography:{}:{}:key/{first}",
            store.region(),
            store.account()
        ),
        "Seconds": (secs * 100.0).round() / 100.0,
        "KeysPerSecond": if secs > 0.0 { (n as f64 / secs).round() } else { 0.0 },
        "KeyQuota": store.key_quota(),
    }))
}
