//! The public output contract: field names of the NDJSON lines and the partition
//! keys returned to Firehose. Fields are only ever added, never renamed or removed;
//! `template.yaml` (Glue columns, S3 prefix) is checked against these lists by tests.

/// Partition key naming the kind of record: [`KIND_LOGS`] or [`KIND_EVENTS`].
pub const KEY_KIND: &str = "kind";
/// Partition key: the AWS account that produced the data.
pub const KEY_ACCOUNT: &str = "account";
/// Partition key: the log group or the event source, made safe as one S3 key segment.
pub const KEY_SOURCE: &str = "source";
/// Partition key: UTC date of the event, `YYYY-MM-DD`.
pub const KEY_DATE: &str = "dt";
/// Partition key: UTC hour of the event, `HH`.
pub const KEY_HOUR: &str = "hour";

/// Every partition key the function returns on an `Ok` record, in S3 prefix order.
pub const PARTITION_KEYS: [&str; 5] = [KEY_KIND, KEY_ACCOUNT, KEY_SOURCE, KEY_DATE, KEY_HOUR];

/// `kind` of records that came from a CloudWatch Logs subscription.
pub const KIND_LOGS: &str = "logs";
/// `kind` of records that came from EventBridge (CloudTrail and other events).
pub const KIND_EVENTS: &str = "events";

/// One field of a CloudWatch Logs output line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON key.
    pub name: &'static str,
    /// The Athena/Hive type of the column that holds it.
    pub athena_type: &'static str,
    /// Whether every line carries it (optional fields appear only when the input has them).
    pub always_present: bool,
}

const fn field(name: &'static str, athena_type: &'static str, always_present: bool) -> Field {
    Field {
        name,
        athena_type,
        always_present,
    }
}

/// The fields of one CloudWatch Logs output line, in the order they are written.
pub const LOG_LINE_FIELDS: [Field; 11] = [
    field("time", "string", true),
    field("timestamp", "bigint", true),
    field("account", "string", true),
    field("log_group", "string", true),
    field("log_stream", "string", true),
    field("id", "string", true),
    field("message", "string", true),
    field("subscription_filters", "array<string>", true),
    field("policy_level", "string", false),
    field("extracted_fields", "map<string,string>", false),
    field("message_json", "string", false),
];
