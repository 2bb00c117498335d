//! Column names of the events and sessions tables (docs/DESIGN.md "The columnar model").

/// `time`: timestamp, ns, UTC.
pub const TIME: &str = "time";
/// `hub`: the hub name, lower-cased.
pub const HUB: &str = "hub";
/// `device_id`.
pub const DEVICE_ID: &str = "device_id";
/// `module_id`, null when none.
pub const MODULE_ID: &str = "module_id";
/// `operation`: `connect` or `disconnect`.
pub const OPERATION: &str = "operation";
/// `level`.
pub const LEVEL: &str = "level";
/// `result_type`: u32 error code, null when none.
pub const RESULT_TYPE: &str = "result_type";
/// `result_description`.
pub const RESULT_DESCRIPTION: &str = "result_description";
/// `protocol`.
pub const PROTOCOL: &str = "protocol";
/// `masked_ip`.
pub const MASKED_IP: &str = "masked_ip";
/// `sdk_version`.
pub const SDK_VERSION: &str = "sdk_version";
/// `auth_type`.
pub const AUTH_TYPE: &str = "auth_type";
/// `status_code`.
pub const STATUS_CODE: &str = "status_code";
/// `source`: the input file's index.
pub const SOURCE: &str = "source";
/// `source_line`: the record's line (or row) in that file.
pub const SOURCE_LINE: &str = "source_line";
/// `seq`: Event Grid sequence number.
pub const SEQ: &str = "seq";

/// The events table's columns, in order.
pub const EVENT_COLUMNS: [&str; 16] = [
    TIME,
    HUB,
    DEVICE_ID,
    MODULE_ID,
    OPERATION,
    LEVEL,
    RESULT_TYPE,
    RESULT_DESCRIPTION,
    PROTOCOL,
    MASKED_IP,
    SDK_VERSION,
    AUTH_TYPE,
    STATUS_CODE,
    SOURCE,
    SOURCE_LINE,
    SEQ,
];

/// The sessions table's columns, in order.
pub const SESSION_COLUMNS: [&str; 16] = [
    "device_id",
    "module_id",
    "session_id",
    "connect_time",
    "disconnect_time",
    "duration",
    "protocol",
    "masked_ip",
    "sdk_version",
    "end_result_type",
    "end_level",
    "gap_before",
    "failed_connects_before",
    "overlap",
    "repaired",
    "hub",
];
