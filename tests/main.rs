//! Integration tests of the `dropscope` binary.
