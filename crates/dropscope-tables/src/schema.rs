//! The bottom of the crate: the schemas of the events and sessions tables (column names and
//! types, docs/DESIGN.md "The columnar model"), the time bounds every reader checks, and the interned
//! names of operations, levels and repair sets. [`crate::frame`], [`crate::parquet_direct`] and
//! [`crate::parquet_read`] all depend on this module and on no other one of theirs in a circle.

use dropscope_model::{Level, Operation, Repairs, Sym, columns};
use polars::prelude::{DataType, Field, Schema, TimeUnit, TimeZone};

/// 1678-01-01T00:00:00Z in nanoseconds: the earliest time the RFC 3339 parser accepts.
pub(crate) const MIN_TIME_NS: i64 = -9_214_560_000_000_000_000;
/// 2261-12-31T23:59:59.999999999Z in nanoseconds: the latest time the RFC 3339 parser accepts.
pub(crate) const MAX_TIME_NS: i64 = 9_214_646_399_999_999_999;

/// The type of every repeated text column: categorical, in polars' global mapping.
pub(crate) fn categorical() -> DataType {
    DataType::from_categories(polars::prelude::Categories::global())
}

fn time() -> DataType {
    DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
}

fn duration() -> DataType {
    DataType::Duration(TimeUnit::Nanoseconds)
}

fn schema(fields: Vec<(&str, DataType)>) -> Schema {
    fields.into_iter().map(|(name, dtype)| Field::new(name.into(), dtype)).collect()
}

/// The events table's columns ([`columns::EVENT_COLUMNS`]) and their types: what
/// [`crate::frame::events_to_df`] builds and every events file holds.
pub(crate) fn events() -> Schema {
    let cat = categorical;
    schema(vec![
        (columns::TIME, time()),
        (columns::HUB, cat()),
        (columns::DEVICE_ID, cat()),
        (columns::MODULE_ID, cat()),
        (columns::OPERATION, cat()),
        (columns::LEVEL, cat()),
        (columns::RESULT_TYPE, DataType::UInt32),
        (columns::RESULT_DESCRIPTION, cat()),
        (columns::PROTOCOL, cat()),
        (columns::MASKED_IP, cat()),
        (columns::SDK_VERSION, cat()),
        (columns::AUTH_TYPE, cat()),
        (columns::STATUS_CODE, cat()),
        (columns::SOURCE, DataType::UInt32),
        (columns::SOURCE_LINE, DataType::UInt64),
        (columns::SEQ, DataType::String),
    ])
}

/// The sessions table's columns ([`columns::SESSION_COLUMNS`]) and their types: what
/// [`crate::frame::sessions_to_df`] builds and every sessions file holds.
pub(crate) fn sessions() -> Schema {
    let cat = categorical;
    let types = [
        cat(),
        cat(),
        DataType::UInt32,
        time(),
        time(),
        duration(),
        cat(),
        cat(),
        cat(),
        DataType::UInt32,
        cat(),
        duration(),
        DataType::UInt32,
        DataType::Boolean,
        cat(),
        cat(),
    ];
    schema(columns::SESSION_COLUMNS.into_iter().zip(types).collect())
}

/// The names of operations, levels and repair sets, interned once per table.
pub(crate) struct Names {
    operations: [Sym; 2],
    levels: [Sym; 4],
    repairs: std::cell::RefCell<Vec<(Repairs, Sym)>>,
}

impl Names {
    pub(crate) fn new() -> Names {
        Names {
            operations: [Operation::Connect, Operation::Disconnect].map(|o| Sym::new(o.as_str())),
            levels: [Level::Information, Level::Warning, Level::Error, Level::Critical]
                .map(|l| Sym::new(l.as_str())),
            repairs: std::cell::RefCell::default(),
        }
    }

    pub(crate) fn operation(&self, operation: Operation) -> Sym {
        self.operations[operation as usize]
    }

    pub(crate) fn level(&self, level: Level) -> Sym {
        self.levels[level as usize]
    }

    /// `missing_connect|reordered`, ... (at most 32 distinct sets).
    pub(crate) fn repairs(&self, repairs: Repairs) -> Sym {
        let mut known = self.repairs.borrow_mut();
        if let Some(&(_, sym)) = known.iter().find(|(r, _)| *r == repairs) {
            return sym;
        }
        let sym = Sym::new(&repairs.to_string());
        known.push((repairs, sym));
        sym
    }
}
