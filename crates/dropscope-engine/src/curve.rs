//! The Connected-devices curve: per-minute min, avg and max of connected devices.
