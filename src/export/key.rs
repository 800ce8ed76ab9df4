//! Where an export object came from, read from its S3 key.
//!
//! CloudWatch Logs writes an export task's objects as
//! `<destination prefix>/<task id>/<log stream>/<NNNNNN>.gz` and puts neither the log
//! group nor the account in the key or the content. The project's convention carries
//! both in the destination prefix, exactly and reversibly:
//!
//! ```text
//! exports/<account id>/<encoded log group>/<task id>/<log stream>/000000.gz
//! ```
//!
//! The log group is encoded as one key segment of S3's safe characters: `A-Z a-z 0-9 . _ -`
//! stay as they are, `/` becomes `!`, and every other byte of the UTF-8 name becomes `*`
//! and two uppercase hex digits (`/aws/lambda/app` → `!aws!lambda!app`, `a#b` → `a*23b`).
//! Neither `!` nor `*` can appear in a log group name, and every byte has one spelling, so
//! the encoding is a bijection between names and valid segments.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// Name of the test object the service writes under the destination prefix.
pub const WRITE_TEST_OBJECT: &str = "aws-logs-write-test";

/// The log group as one key segment (see the module documentation).
pub fn encode_log_group(log_group: &str) -> String {
    let mut encoded = String::with_capacity(log_group.len());
    for byte in log_group.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => {
                encoded.push(char::from(byte));
            }
            b'/' => encoded.push('!'),
            other => {
                // Writing to a String cannot fail.
                let _ = write!(encoded, "*{other:02X}");
            }
        }
    }
    encoded
}

/// The log group a segment encodes, or `None` when the segment is not an encoding.
pub fn decode_log_group(segment: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => bytes.push(byte),
            b'!' => bytes.push(b'/'),
            b'*' => {
                let (hex, tail) = (rest.get(..2)?, &rest[2..]);
                let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                // One spelling per byte: uppercase hex, and never for a kept character.
                let canonical = format!("{value:02X}");
                if hex != canonical.as_bytes() || is_kept(value) || value == b'/' {
                    return None;
                }
                bytes.push(value);
                rest = tail;
            }
            _ => return None,
        }
    }
    String::from_utf8(bytes)
        .ok()
        .filter(|name| !name.is_empty())
}

fn is_kept(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-')
}

/// The destination prefix an export task of `log_group` in `account` is given.
pub fn destination_prefix(export_prefix: &str, account: &str, log_group: &str) -> String {
    format!(
        "{}/{account}/{}",
        export_prefix.trim_end_matches('/'),
        encode_log_group(log_group)
    )
}

/// An export object whose key follows the convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSource {
    /// The account that owns the log group.
    pub account: String,
    /// The log group, exactly.
    pub log_group: String,
    /// The export task's folder (the task id; moto uses another id).
    pub task: String,
    /// The log stream's folder: its name with `/` replaced by `-` by the service.
    pub log_stream: String,
    /// The object's name within the stream's folder (`000000.gz`).
    pub chunk: String,
    /// 16 hex digits of SHA-256 of the whole key: names the outputs and the event ids.
    pub fingerprint: String,
}

/// Why an object is left alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    /// Not under the export prefix at all.
    #[error("the key is not under the export prefix {0:?}")]
    OutsidePrefix(String),
    /// The service's `aws-logs-write-test` object.
    #[error("the export service's write-test object")]
    WriteTest,
    /// Under the prefix, but not `<account>/<log group>/<task>/<stream>/<chunk>.gz`.
    #[error("the key does not follow <account>/<encoded log group>/<task>/<stream>/<chunk>.gz")]
    NotConvention,
    /// The account segment is not 12 digits.
    #[error("the account segment {0:?} is not a 12-digit account id")]
    Account(String),
    /// The log group segment is not an encoding.
    #[error("the log group segment {0:?} is not an encoded log group name")]
    LogGroup(String),
}

impl ExportSource {
    /// Reads an object key (already URL-decoded) under `export_prefix`.
    pub fn parse(key: &str, export_prefix: &str) -> Result<Self, Skip> {
        let prefix = export_prefix.trim_end_matches('/');
        let rest = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| Skip::OutsidePrefix(prefix.to_owned()))?;
        if rest.rsplit('/').next() == Some(WRITE_TEST_OBJECT) {
            return Err(Skip::WriteTest);
        }
        let segments: Vec<&str> = rest.split('/').collect();
        let [account, log_group, task, log_stream, chunk] = segments[..] else {
            return Err(Skip::NotConvention);
        };
        if [task, log_stream].iter().any(|segment| segment.is_empty())
            || chunk.len() <= ".gz".len()
            || !chunk.ends_with(".gz")
        {
            return Err(Skip::NotConvention);
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Skip::Account(account.to_owned()));
        }
        let log_group =
            decode_log_group(log_group).ok_or_else(|| Skip::LogGroup(log_group.to_owned()))?;
        Ok(Self {
            account: account.to_owned(),
            log_group,
            task: task.to_owned(),
            log_stream: log_stream.to_owned(),
            chunk: chunk.to_owned(),
            fingerprint: fingerprint(key),
        })
    }

    /// Name of the `sequence`th output object written for this source in one partition:
    /// derived from the source key only, so converting it again overwrites, and shaped
    /// unlike Firehose's names (`<stream>-<version>-<time>-<uuid>`), so never one of them.
    pub fn output_name(&self, sequence: usize) -> String {
        format!("export-{}-{sequence:04}.json.gz", self.fingerprint)
    }
}

fn fingerprint(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut hex = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_readably() {
        let cases = [
            ("/aws/lambda/app", "!aws!lambda!app"),
            (
                "API-Gateway-Execution-Logs_abc/prod",
                "API-Gateway-Execution-Logs_abc!prod",
            ),
            ("/ecs/web#blue", "!ecs!web*23blue"),
            ("é", "*C3*A9"),
        ];
        for (name, encoded) in cases {
            assert_eq!(encode_log_group(name), encoded);
            assert_eq!(decode_log_group(encoded).as_deref(), Some(name));
        }
    }

    #[test]
    fn rejects_what_no_name_encodes_to() {
        for segment in ["", "*2F", "*41", "*2f", "*2", "a b", "a/b", "*FF", "%2F"] {
            assert_eq!(decode_log_group(segment), None, "{segment}");
        }
    }

    #[test]
    fn parses_the_convention() {
        let key = "exports/111111111111/!aws!lambda!app/d8fdd9b6-9bb8-4e13-8df1-7f41e8610d8c/2022-11-11-[$LATEST]cb2c/000000.gz";
        let object = ExportSource::parse(key, "exports").unwrap();
        assert_eq!(object.account, "111111111111");
        assert_eq!(object.log_group, "/aws/lambda/app");
        assert_eq!(object.task, "d8fdd9b6-9bb8-4e13-8df1-7f41e8610d8c");
        assert_eq!(object.log_stream, "2022-11-11-[$LATEST]cb2c");
        assert_eq!(object.chunk, "000000.gz");
        assert_eq!(object.fingerprint.len(), 16);
        assert_eq!(ExportSource::parse(key, "exports/").unwrap(), object);
        let name = object.output_name(0);
        assert!(name.starts_with("export-") && name.ends_with("-0000.json.gz"));
        assert_ne!(
            ExportSource::parse(&key.replace("000000", "000001"), "exports")
                .unwrap()
                .fingerprint,
            object.fingerprint
        );
    }

    #[test]
    fn leaves_other_objects_alone() {
        let cases = [
            ("aws-logs-write-test", Skip::OutsidePrefix("exports".into())),
            (
                "exports/111111111111/!a/aws-logs-write-test",
                Skip::WriteTest,
            ),
            ("exports/aws-logs-write-test", Skip::WriteTest),
            (
                "exportsX/111111111111/!a/t/s/000000.gz",
                Skip::OutsidePrefix("exports".into()),
            ),
            ("exports/t/s/000000.gz", Skip::NotConvention),
            (
                "exports/111111111111/!a/t/s/000000.txt",
                Skip::NotConvention,
            ),
            ("exports/111111111111/!a/t//000000.gz", Skip::NotConvention),
            (
                "exports/111111111111/!a/t/s/x/000000.gz",
                Skip::NotConvention,
            ),
            (
                "exports/11111111111/!a/t/s/000000.gz",
                Skip::Account("11111111111".into()),
            ),
            (
                "exports/111111111111/a%2Fb/t/s/000000.gz",
                Skip::LogGroup("a%2Fb".into()),
            ),
        ];
        for (key, skip) in cases {
            assert_eq!(ExportSource::parse(key, "exports"), Err(skip), "{key}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_any_name(name in "\\PC{1,64}|[/._#a-zA-Z0-9-]{1,512}") {
            let encoded = encode_log_group(&name);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_!*".contains(&b)));
            prop_assert_eq!(decode_log_group(&encoded), Some(name.clone()));
            let key = format!("{}/t/s/000000.gz", destination_prefix("exports", "123456789012", &name));
            let object = ExportSource::parse(&key, "exports").unwrap();
            prop_assert_eq!(object.log_group, name);
        }

        #[test]
        fn decoding_is_canonical(segment in "[a-z!*0-9A-F]{0,12}") {
            if let Some(name) = decode_log_group(&segment) {
                prop_assert_eq!(encode_log_group(&name), segment);
            }
        }
    }
}
