//! Fuzz target `read_parquet_no_panic`: see `dropscope_formats::fuzz::read_parquet_no_panic`.
//! Run with `cargo fuzz run read_parquet_no_panic --features parquet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dropscope_formats::fuzz::read_parquet_no_panic(data));
