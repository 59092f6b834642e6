#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paycrypt_fuzz::targets::tr31(data));
