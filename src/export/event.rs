//! The converter's trigger: S3 "Object Created", as an S3 event notification
//! (`Records[].s3`, keys URL-encoded with spaces as `+`) or as an EventBridge event
//! (`detail-type` "Object Created", keys as they are). Either wiring works.

use serde::Deserialize;

/// One created object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
}

/// An event the converter cannot use at all.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// Neither shape.
    #[error("the event is neither an S3 notification nor an EventBridge Object Created event")]
    Unrecognised,
    /// A notification key that does not URL-decode to UTF-8.
    #[error("the object key {0:?} is not URL-encoded UTF-8")]
    Key(String),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Trigger {
    Notification {
        #[serde(rename = "Records")]
        records: Vec<NotificationRecord>,
    },
    EventBridge {
        #[serde(rename = "detail-type")]
        detail_type: String,
        detail: EventBridgeDetail,
    },
    /// Sent once when a notification configuration is saved.
    TestEvent {
        #[serde(rename = "Event")]
        event: String,
    },
}

#[derive(Debug, Deserialize)]
struct NotificationRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: Entity,
}

#[derive(Debug, Deserialize)]
struct Entity {
    bucket: Named,
    object: Keyed,
}

#[derive(Debug, Deserialize)]
struct EventBridgeDetail {
    bucket: Named,
    object: Keyed,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Keyed {
    key: String,
}

/// The objects an event announces as created (none for S3's test event).
pub fn created_objects(event: &serde_json::Value) -> Result<Vec<CreatedObject>, TriggerError> {
    let trigger = Trigger::deserialize(event).map_err(|_| TriggerError::Unrecognised)?;
    match trigger {
        Trigger::Notification { records } => records
            .into_iter()
            .filter(|record| {
                record.event_name.is_empty() || record.event_name.starts_with("ObjectCreated:")
            })
            .map(|record| {
                Ok(CreatedObject {
                    bucket: record.s3.bucket.name,
                    key: decode_notification_key(&record.s3.object.key)?,
                })
            })
            .collect(),
        Trigger::EventBridge {
            detail_type,
            detail,
        } if detail_type == "Object Created" => Ok(vec![CreatedObject {
            bucket: detail.bucket.name,
            key: detail.object.key,
        }]),
        Trigger::TestEvent { event } if event == "s3:TestEvent" => Ok(Vec::new()),
        _ => Err(TriggerError::Unrecognised),
    }
}

/// S3 notifications URL-encode keys, with a space as `+`.
fn decode_notification_key(key: &str) -> Result<String, TriggerError> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| TriggerError::Key(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "exports/111111111111/!aws!lambda!app/t/2026-11-22-[$LATEST]0a1b/000000.gz";

    #[test]
    fn reads_both_shapes() {
        let notification = json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                   "object": {"key": "exports/111111111111/!aws!lambda!app/t/2026-11-22-%5B%24LATEST%5D0a1b/000000.gz", "size": 10}}
        }, {
            "eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "gone"}}
        }]});
        let eventbridge = json!({
            "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "111111111111", "time": "2026-11-22T06:41:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:s3:::b"],
            "detail": {"version": "0", "bucket": {"name": "b"},
                       "object": {"key": KEY, "size": 10, "etag": "e"}, "reason": "PutObject"}
        });
        let expected = vec![CreatedObject {
            bucket: "b".into(),
            key: KEY.into(),
        }];
        assert_eq!(created_objects(&notification).unwrap(), expected);
        assert_eq!(created_objects(&eventbridge).unwrap(), expected);
        let spaces =
            json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "a+b%2Bc"}}}]});
        assert_eq!(created_objects(&spaces).unwrap()[0].key, "a b+c");
        assert!(
            created_objects(&json!({"Event": "s3:TestEvent", "Bucket": "b"}))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rejects_other_events() {
        for event in [
            json!({}),
            json!({"records": []}),
            json!({"detail-type": "Object Deleted", "detail": {"bucket": {"name": "b"}, "object": {"key": "k"}}}),
            json!({"Event": "s3:OtherEvent", "Bucket": "b"}),
        ] {
            let error = created_objects(&event).unwrap_err();
            assert!(
                matches!(error, TriggerError::Unrecognised),
                "{event}: {error}"
            );
            assert!(error.to_string().contains("neither"), "{error}");
        }
        let bad_key =
            json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "%FF"}}}]});
        let error = created_objects(&bad_key).unwrap_err();
        assert!(
            matches!(&error, TriggerError::Key(key) if key == "%FF"),
            "{error}"
        );
        assert!(
            error.to_string().contains("not URL-encoded UTF-8"),
            "{error}"
        );
    }
}
