//! Configuration, read once from environment variables at cold start.
//!
//! An invalid value stops the function at start with an error naming the variable,
//! so a misconfiguration shows up at deploy time instead of as silently odd output.

use std::collections::HashMap;

pub use crate::support::settings::ConfigError;
use crate::support::settings::{parse_bool, parse_namespace, parse_size};

/// Hard limit of a synchronous Lambda response, in bytes.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6_291_456;

/// Variable: maximum decompressed size of one record, in bytes.
pub const ENV_MAX_DECOMPRESSED_BYTES: &str = "MAX_DECOMPRESSED_BYTES";
/// Variable: maximum size of the serialized response, in bytes.
pub const ENV_RESPONSE_BUDGET_BYTES: &str = "RESPONSE_BUDGET_BYTES";
pub use crate::support::settings::{ENV_METRICS_NAMESPACE, ENV_PARSE_JSON_MESSAGES};

/// Variable: split CloudWatch Logs records whose events span hours, one partition each.
pub const ENV_SPLIT_BY_EVENT_HOUR: &str = "SPLIT_BY_EVENT_HOUR";
/// Variable: time kept back from the invocation deadline when re-ingesting, in ms.
pub const ENV_REINGEST_SAFETY_MARGIN_MS: &str = "REINGEST_SAFETY_MARGIN_MS";

/// Variable set by Lambda itself: the log group the function writes to. Records from it
/// (in the function's own account) are never forwarded again: see [`Config::own_log_group`].
pub const ENV_LAMBDA_LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";

/// Every variable the function reads from its configuration, with its default, for documentation and for the
/// test that keeps `template.yaml` in step with the code.
pub const ENV_VARS: [(&str, &str); 6] = [
    (ENV_MAX_DECOMPRESSED_BYTES, "67108864"),
    (ENV_RESPONSE_BUDGET_BYTES, "6000000"),
    (ENV_PARSE_JSON_MESSAGES, "false"),
    (ENV_METRICS_NAMESPACE, "FirehoseLogsProcessor"),
    (ENV_SPLIT_BY_EVENT_HOUR, "true"),
    (ENV_REINGEST_SAFETY_MARGIN_MS, "10000"),
];

/// The function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest decompressed size of one record; a larger record is `ProcessingFailed`.
    pub max_decompressed_bytes: usize,
    /// Largest serialized response the function returns.
    pub response_budget_bytes: usize,
    /// Whether a log message that is a JSON object is also written parsed, as `message_json`.
    pub parse_json_messages: bool,
    /// CloudWatch metrics namespace.
    pub metrics_namespace: String,
    /// Whether a record whose events span hours is split so each event lands in its hour.
    pub split_by_event_hour: bool,
    /// Time kept back from the invocation deadline when re-ingesting.
    pub reingest_safety_margin: std::time::Duration,
    /// The function's own log group, as Lambda names it (`AWS_LAMBDA_LOG_GROUP_NAME`).
    /// The loop guard: a record from this group in the function's own account is
    /// answered `Dropped` and never written again, so a subscription that wrongly takes
    /// in this group cannot feed itself.
    pub own_log_group: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 64 * 1024 * 1024,
            response_budget_bytes: 6_000_000,
            parse_json_messages: false,
            metrics_namespace: "FirehoseLogsProcessor".to_owned(),
            split_by_event_hour: true,
            reingest_safety_margin: std::time::Duration::from_secs(10),
            own_log_group: None,
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from a map, as the environment would give it.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let max_decompressed_bytes = match lookup(ENV_MAX_DECOMPRESSED_BYTES) {
            None => defaults.max_decompressed_bytes,
            Some(value) => parse_size(ENV_MAX_DECOMPRESSED_BYTES, &value, 1024, 1 << 30)?,
        };
        let response_budget_bytes = match lookup(ENV_RESPONSE_BUDGET_BYTES) {
            None => defaults.response_budget_bytes,
            Some(value) => parse_size(
                ENV_RESPONSE_BUDGET_BYTES,
                &value,
                64 * 1024,
                LAMBDA_RESPONSE_LIMIT,
            )?,
        };
        let parse_json_messages = match lookup(ENV_PARSE_JSON_MESSAGES) {
            None => defaults.parse_json_messages,
            Some(value) => parse_bool(ENV_PARSE_JSON_MESSAGES, &value)?,
        };
        let metrics_namespace = match lookup(ENV_METRICS_NAMESPACE) {
            None => defaults.metrics_namespace,
            Some(value) => parse_namespace(ENV_METRICS_NAMESPACE, value)?,
        };
        let split_by_event_hour = match lookup(ENV_SPLIT_BY_EVENT_HOUR) {
            None => defaults.split_by_event_hour,
            Some(value) => parse_bool(ENV_SPLIT_BY_EVENT_HOUR, &value)?,
        };
        let reingest_safety_margin = match lookup(ENV_REINGEST_SAFETY_MARGIN_MS) {
            None => defaults.reingest_safety_margin,
            Some(value) => std::time::Duration::from_millis(parse_size(
                ENV_REINGEST_SAFETY_MARGIN_MS,
                &value,
                0,
                120_000,
            )? as u64),
        };
        let own_log_group = lookup(ENV_LAMBDA_LOG_GROUP_NAME).filter(|name| !name.is_empty());
        Ok(Self {
            max_decompressed_bytes,
            response_budget_bytes,
            parse_json_messages,
            metrics_namespace,
            split_by_event_hour,
            reingest_safety_margin,
            own_log_group,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_map(&vars)
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let vars = ENV_VARS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(Config::from_map(&vars).unwrap(), Config::default());
        assert_eq!(config(&[]).unwrap(), Config::default());
    }

    #[test]
    fn valid_values_are_read() {
        let parsed = config(&[
            (ENV_MAX_DECOMPRESSED_BYTES, "1048576"),
            (ENV_RESPONSE_BUDGET_BYTES, "6291456"),
            (ENV_PARSE_JSON_MESSAGES, "TRUE"),
            (ENV_METRICS_NAMESPACE, "Platform/Logs"),
            (ENV_SPLIT_BY_EVENT_HOUR, "off"),
            (ENV_REINGEST_SAFETY_MARGIN_MS, "2500"),
        ])
        .unwrap();
        assert_eq!(parsed.max_decompressed_bytes, 1_048_576);
        assert_eq!(parsed.response_budget_bytes, LAMBDA_RESPONSE_LIMIT);
        assert!(parsed.parse_json_messages);
        assert_eq!(parsed.metrics_namespace, "Platform/Logs");
        assert!(!parsed.split_by_event_hour);
        assert_eq!(parsed.reingest_safety_margin.as_millis(), 2500);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases = [
            (ENV_MAX_DECOMPRESSED_BYTES, "lots"),
            (ENV_MAX_DECOMPRESSED_BYTES, "10"),
            (ENV_RESPONSE_BUDGET_BYTES, "6291457"),
            (ENV_RESPONSE_BUDGET_BYTES, "-1"),
            (ENV_PARSE_JSON_MESSAGES, "maybe"),
            (ENV_METRICS_NAMESPACE, ":bad"),
            (ENV_METRICS_NAMESPACE, ""),
            (ENV_SPLIT_BY_EVENT_HOUR, "2"),
            (ENV_REINGEST_SAFETY_MARGIN_MS, "600000"),
        ];
        for (variable, value) in cases {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(
                error.to_string().contains(variable),
                "{variable}={value}: {error}"
            );
        }
    }
}
