#![no_main]

use std::cell::RefCell;

use paycrypt_fuzz::targets::{http, Harness};

/// Inputs served by one in-memory server before it is rebuilt: building one creates 11 keys
/// (~ms), so it is shared, and rebuilt regularly so that state left by fuzzed control-plane
/// calls (new keys, deleted aliases, stopped keys) cannot pile up or hide the pre-populated keys
/// for long.
const RESET_EVERY: usize = 2000;

thread_local! {
    static HARNESS: RefCell<Option<(Harness, usize)>> = const { RefCell::new(None) };
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(_, n)| *n >= RESET_EVERY) {
            *slot = Some((Harness::new(), 0));
        }
        if let Some((h, n)) = slot.as_mut() {
            *n += 1;
            let _ = http(h, data);
        }
    });
});
