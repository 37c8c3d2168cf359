#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stsvend_sign_fuzz::sts_json(data));
