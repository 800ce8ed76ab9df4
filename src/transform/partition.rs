//! Partition keys returned to Firehose for dynamic partitioning, and the rules that
//! turn log group names, event sources and event times into safe S3 key segments.

use crate::transform::schema::{KEY_ACCOUNT, KEY_DATE, KEY_HOUR, KEY_KIND, KEY_SOURCE};
use crate::transform::time::UtcTime;

/// Longest key segment produced by [`key_segment`].
pub const MAX_SEGMENT_LEN: usize = 100;

/// Segment used when a name is empty after sanitising (an event without `source`, say).
pub const UNKNOWN_SEGMENT: &str = "unknown";

/// The partition keys of one output record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeys {
    /// `logs` or `events`.
    pub kind: &'static str,
    /// The account, as a key segment.
    pub account: String,
    /// The log group or event source, as a key segment.
    pub source: String,
    /// `YYYY-MM-DD` of the event time, UTC.
    pub date: String,
    /// `HH` of the event time, UTC.
    pub hour: String,
}

impl PartitionKeys {
    /// Builds the keys from raw names; `account` and `source` are made safe here.
    pub fn new(kind: &'static str, account: &str, source: &str, time: UtcTime) -> Self {
        Self {
            kind,
            account: key_segment(account),
            source: key_segment(source),
            date: time.date_string(),
            hour: time.hour_string(),
        }
    }

    /// The keys as (name, value) pairs, in S3 prefix order.
    pub fn pairs(&self) -> [(&'static str, &str); 5] {
        [
            (KEY_KIND, self.kind),
            (KEY_ACCOUNT, &self.account),
            (KEY_SOURCE, &self.source),
            (KEY_DATE, &self.date),
            (KEY_HOUR, &self.hour),
        ]
    }
}

/// The S3 layout under `logs/` and `events/`: the template's `PartitionLayout`
/// parameter, which shapes the delivery stream's `Prefix`. The export converter writes
/// under the same prefixes; a test evaluates the template's expression against
/// [`PartitionLayout::prefix`] for every layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionLayout {
    /// `kind/account=…/source=…/dt=…/hour=…/` (the finest, the default).
    AccountSourceHour,
    /// `kind/account=…/source=…/dt=…/`.
    AccountSourceDay,
    /// `kind/account=…/dt=…/hour=…/`.
    AccountHour,
    /// `kind/account=…/dt=…/`.
    AccountDay,
}

impl PartitionLayout {
    /// Every layout with its parameter value.
    pub const ALL: [(PartitionLayout, &'static str); 4] = [
        (Self::AccountSourceHour, "account-source-hour"),
        (Self::AccountSourceDay, "account-source-day"),
        (Self::AccountHour, "account-hour"),
        (Self::AccountDay, "account-day"),
    ];

    /// The layout a parameter value names.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(layout, _)| *layout)
    }

    /// Whether the layout has a `source=` level.
    pub fn has_source(self) -> bool {
        matches!(self, Self::AccountSourceHour | Self::AccountSourceDay)
    }

    /// Whether the layout has an `hour=` level.
    pub fn has_hour(self) -> bool {
        matches!(self, Self::AccountSourceHour | Self::AccountHour)
    }

    /// The S3 prefix Firehose evaluates for these keys, ending in `/`.
    pub fn prefix(self, keys: &PartitionKeys) -> String {
        let mut prefix = format!("{}/account={}/", keys.kind, keys.account);
        if self.has_source() {
            prefix.push_str(&format!("source={}/", keys.source));
        }
        prefix.push_str(&format!("dt={}/", keys.date));
        if self.has_hour() {
            prefix.push_str(&format!("hour={}/", keys.hour));
        }
        prefix
    }
}

/// Makes a name safe as one S3 key segment, deterministically and readably.
///
/// The rule (documented in docs/output-schema.md, stable across versions):
/// 1. leading `/` characters are removed (`/aws/lambda/app` -> `aws/lambda/app`);
/// 2. every character outside `A-Z a-z 0-9 . _ -` becomes `_` (`aws_lambda_app`);
/// 3. an empty result becomes `unknown`; a result of only dots becomes `_` runs, so a
///    segment is never `.` or `..`;
/// 4. a result longer than 100 characters is cut to 91 and followed by `-` and the
///    8 lowercase hex digits of the CRC-32 of the ORIGINAL name, so long names that
///    share a beginning stay distinct.
pub fn key_segment(name: &str) -> String {
    let trimmed = name.trim_start_matches('/');
    let mut segment: String = trimmed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if segment.is_empty() {
        return UNKNOWN_SEGMENT.to_owned();
    }
    if segment.bytes().all(|b| b == b'.') {
        segment = "_".repeat(segment.len());
    }
    if segment.len() > MAX_SEGMENT_LEN {
        // Every character is ASCII here, so any byte index is a character boundary.
        segment.truncate(MAX_SEGMENT_LEN - 9);
        segment.push('-');
        segment.push_str(&format!("{:08x}", crc32fast::hash(name.as_bytes())));
    }
    segment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_documented_rule() {
        let long = format!("/aws/lambda/{}", "x".repeat(200));
        let long_segment = key_segment(&long);
        let cases: Vec<(&str, String)> = vec![
            ("/aws/lambda/app", "aws_lambda_app".into()),
            ("aws.iam", "aws.iam".into()),
            ("123456789012", "123456789012".into()),
            (
                "API-Gateway-Execution-Logs_abc/prod",
                "API-Gateway-Execution-Logs_abc_prod".into(),
            ),
            ("/ecs/svc#1 é", "ecs_svc_1__".into()),
            ("", "unknown".into()),
            ("///", "unknown".into()),
            ("..", "__".into()),
            ("../../etc", ".._.._etc".into()),
            (long.as_str(), long_segment.clone()),
        ];
        for (name, expected) in cases {
            assert_eq!(key_segment(name), expected, "{name:?}");
        }
        assert_eq!(long_segment.len(), MAX_SEGMENT_LEN);
        assert!(long_segment.starts_with("aws_lambda_xxx"));
        let suffix = &long_segment[MAX_SEGMENT_LEN - 9..];
        assert_eq!(suffix, format!("-{:08x}", crc32fast::hash(long.as_bytes())));
    }

    #[test]
    fn long_names_sharing_a_beginning_stay_distinct() {
        let base = "g".repeat(150);
        assert_ne!(
            key_segment(&format!("{base}-a")),
            key_segment(&format!("{base}-b"))
        );
    }

    #[test]
    fn segments_are_always_safe() {
        for name in [
            "a/b",
            "/",
            "\u{0}",
            "a b",
            "ü",
            "%2F",
            "a=b",
            "x".repeat(513).as_str(),
        ] {
            let segment = key_segment(name);
            assert!(
                !segment.is_empty() && segment.len() <= MAX_SEGMENT_LEN,
                "{name:?}"
            );
            assert!(segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')));
            assert!(segment != "." && segment != "..");
        }
    }
}
