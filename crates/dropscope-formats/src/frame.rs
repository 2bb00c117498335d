//! The polars boundary: events and sessions <-> DataFrame, and the Parquet and Arrow IPC forms.
