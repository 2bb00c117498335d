//! Session reconstruction: per-device timelines with repairs, computed in parallel.
