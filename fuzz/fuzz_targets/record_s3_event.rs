#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stsvend_fuzz::record_s3_event(data));
