#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stsvend_fuzz::record_oss_event(data));
