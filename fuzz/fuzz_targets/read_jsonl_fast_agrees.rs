//! Fuzz target `read_jsonl_fast_agrees`: see `dropscope_logs::fuzz::read_jsonl_fast_agrees`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dropscope_logs::fuzz::read_jsonl_fast_agrees(data));
