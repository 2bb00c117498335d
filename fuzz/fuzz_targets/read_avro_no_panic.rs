//! Fuzz target `read_avro_no_panic`: see `dropscope_logs::fuzz::read_avro_no_panic`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dropscope_logs::fuzz::read_avro_no_panic(data));
