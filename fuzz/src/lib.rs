//! paycrypt fuzz targets (see `targets`): the libFuzzer binaries in `fuzz_targets/` are thin
//! wrappers around these plain functions.
#![forbid(unsafe_code)]

pub mod targets;
