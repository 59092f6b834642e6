#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod asym;
pub mod card;
pub mod card_verification;
pub mod cipher;
pub mod dukpt;
pub mod emv;
pub mod error;
pub mod hex;
pub mod kcv;
pub mod keyblock;
pub mod mac;
pub mod pin_verification;
pub mod pinblock;
pub mod random;
pub mod secret;

pub use error::{Error, Result};
