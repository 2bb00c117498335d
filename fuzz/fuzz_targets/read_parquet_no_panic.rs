//! Fuzz target `read_parquet_no_panic`: see `dropscope_logs::fuzz::read_parquet_no_panic`.
//! Run with `cargo fuzz run read_parquet_no_panic --features parquet --sanitizer none`.
//!
//! libfuzzer-sys aborts on every panic, even one the reader catches (polars' Parquet layer panics
//! on some corrupt files, and `read_events` reports those as errors); the init block swaps in a
//! silent hook, so only what escapes the reader (an uncaught panic aborts at the `extern "C"`
//! boundary), an abort, a memory blow-up or a hang counts as a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| dropscope_logs::fuzz::read_parquet_no_panic(data)
);
