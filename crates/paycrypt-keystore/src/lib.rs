//! paycrypt key store: the AWS Payment Cryptography key model ([`model`]) and the
//! store that keeps keys, aliases and tags, sealed at rest.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod model;
