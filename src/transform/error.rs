//! Why one record could not be transformed. Each such record is returned
//! `ProcessingFailed` on its own; the rest of the batch goes on.

/// One record's failure.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// `data` is not valid base64.
    #[error("record data is not valid base64")]
    Base64,
    /// The gzip stream is corrupt or truncated.
    #[error("gzip payload is corrupt or truncated")]
    Gzip(#[source] std::io::Error),
    /// Decompression would exceed the configured cap.
    #[error("decompressed payload exceeds the {max_bytes}-byte limit")]
    TooLarge {
        /// The cap, `MAX_DECOMPRESSED_BYTES`.
        max_bytes: usize,
    },
    /// Not gzip, and not a JSON object either.
    #[error("payload is neither gzip nor a JSON object")]
    UnrecognisedPayload,
    /// The payload is not UTF-8 text.
    #[error("payload is not valid UTF-8")]
    NotUtf8(#[source] simdutf8::compat::Utf8Error),
    /// A gzip payload that is not a CloudWatch Logs subscription message.
    #[error("payload is not a CloudWatch Logs subscription message")]
    NotSubscriptionMessage(#[source] serde_json::Error),
    /// A JSON object that does not parse.
    #[error("payload is not a valid JSON object")]
    InvalidJson(#[source] serde_json::Error),
    /// `messageType` has a value this function does not know.
    #[error("unknown CloudWatch Logs messageType {0:?}")]
    UnknownMessageType(String),
    /// A `DATA_MESSAGE` lacks a field every data message has.
    #[error("CloudWatch Logs data message has no {0}")]
    MissingField(&'static str),
    /// A log event field has the wrong JSON type.
    #[error("log event {field} is not {expected}")]
    InvalidEventField {
        /// The field's name in the input.
        field: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// A log event timestamp outside years 0 to 9999.
    #[error("log event timestamp {0} is outside years 0 to 9999")]
    TimestampOutOfRange(i64),
    /// One log event whose line is larger than any response could hold.
    #[error("a log event's line of {0} bytes can never fit in a response")]
    EventTooLarge(usize),
    /// Parts of the record could not be put back into the stream in time.
    #[error("re-ingestion of the record did not complete")]
    ReingestFailed,
    /// Re-ingestion met an error no retry can cure (the cause, as the put call gave it).
    #[error("not re-ingested: {0}")]
    ReingestStopped(String),
    /// The code panicked on this record (a bug: reported, never hidden).
    #[error("internal error while transforming the record: {0}")]
    Panic(String),
}
