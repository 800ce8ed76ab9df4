//! The export converter's configuration, read once from environment variables at cold
//! start; an invalid value stops it at start with an error naming the variable.

use std::collections::HashMap;

use crate::support::settings::{invalid, parse_bool, parse_namespace, ConfigError};
use crate::transform::partition::PartitionLayout;

use super::ConvertOptions;

/// Variable: the stack's `PartitionLayout`, which the outputs follow.
pub const ENV_PARTITION_LAYOUT: &str = "PARTITION_LAYOUT";
/// Variable: the prefix export tasks write under (the convention's first segment).
pub const ENV_EXPORT_PREFIX: &str = "EXPORT_PREFIX";
/// Variable: KMS key the outputs are encrypted with; empty = the bucket's default.
pub const ENV_OUTPUT_KMS_KEY_ARN: &str = "OUTPUT_KMS_KEY_ARN";
pub use crate::support::settings::{ENV_METRICS_NAMESPACE, ENV_PARSE_JSON_MESSAGES};

/// Every variable the converter reads, with its default, for the README's settings table and for the test
/// that keeps `template.yaml` in step with the code.
pub const ENV_VARS: [(&str, &str); 5] = [
    (ENV_PARTITION_LAYOUT, "account-source-hour"),
    (ENV_EXPORT_PREFIX, "exports"),
    (ENV_OUTPUT_KMS_KEY_ARN, ""),
    (ENV_METRICS_NAMESPACE, "FirehoseLogsProcessor"),
    (ENV_PARSE_JSON_MESSAGES, "false"),
];

/// The converter's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    /// How outputs are shaped.
    pub convert: ConvertOptions,
    /// The export prefix, without a trailing `/`.
    pub export_prefix: String,
    /// The KMS key outputs are put with, when set.
    pub output_kms_key_arn: Option<String>,
    /// CloudWatch metrics namespace.
    pub metrics_namespace: String,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            convert: ConvertOptions::default(),
            export_prefix: "exports".to_owned(),
            output_kms_key_arn: None,
            metrics_namespace: "FirehoseLogsProcessor".to_owned(),
        }
    }
}

impl ExportConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from a map, as the environment would give it.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(value) = lookup(ENV_PARTITION_LAYOUT) {
            config.convert.layout = PartitionLayout::from_name(value.trim()).ok_or_else(|| {
                let names: Vec<&str> = PartitionLayout::ALL.iter().map(|(_, name)| *name).collect();
                invalid(
                    ENV_PARTITION_LAYOUT,
                    &value,
                    format!("expected one of {}", names.join(", ")),
                )
            })?;
        }
        if let Some(value) = lookup(ENV_EXPORT_PREFIX) {
            let prefix = value.trim().trim_matches('/');
            if prefix.is_empty() || prefix.split('/').any(str::is_empty) {
                return Err(invalid(
                    ENV_EXPORT_PREFIX,
                    &value,
                    "expected a non-empty S3 prefix such as exports",
                ));
            }
            config.export_prefix = prefix.to_owned();
        }
        config.output_kms_key_arn = lookup(ENV_OUTPUT_KMS_KEY_ARN)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty());
        if let Some(value) = lookup(ENV_METRICS_NAMESPACE) {
            config.metrics_namespace = parse_namespace(ENV_METRICS_NAMESPACE, value)?;
        }
        if let Some(value) = lookup(ENV_PARSE_JSON_MESSAGES) {
            config.convert.parse_json_messages = parse_bool(ENV_PARSE_JSON_MESSAGES, &value)?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<ExportConfig, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ExportConfig::from_map(&vars)
    }

    #[test]
    fn defaults_match_the_documented_table() {
        assert_eq!(config(&ENV_VARS).unwrap(), ExportConfig::default());
        assert_eq!(config(&[]).unwrap(), ExportConfig::default());
    }

    #[test]
    fn reads_and_rejects() {
        let parsed = config(&[
            (ENV_PARTITION_LAYOUT, "account-day"),
            (ENV_EXPORT_PREFIX, "/history/exports/"),
            (
                ENV_OUTPUT_KMS_KEY_ARN,
                "arn:aws:kms:eu-west-1:111111111111:key/k",
            ),
            (ENV_PARSE_JSON_MESSAGES, "true"),
        ])
        .unwrap();
        assert_eq!(parsed.convert.layout, PartitionLayout::AccountDay);
        assert_eq!(parsed.export_prefix, "history/exports");
        assert!(parsed.output_kms_key_arn.is_some());
        assert!(parsed.convert.parse_json_messages);
        for (variable, value) in [
            (ENV_PARTITION_LAYOUT, "hourly"),
            (ENV_EXPORT_PREFIX, "/"),
            (ENV_EXPORT_PREFIX, "a//b"),
            (ENV_METRICS_NAMESPACE, ":x"),
        ] {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }
}
