//! Entry points for the cargo-fuzz targets in `fuzz/`: each takes arbitrary bytes and must not panic.
