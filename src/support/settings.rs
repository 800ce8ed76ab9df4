//! Reading a function's settings from environment variables: the error that names the
//! variable, and the parsers both functions' configurations share.

/// Variable: add `message_json` when a log message is itself a JSON object (both
/// functions read it, so that live and converted lines agree).
pub const ENV_PARSE_JSON_MESSAGES: &str = "PARSE_JSON_MESSAGES";
/// Variable: CloudWatch namespace of the per-invocation metrics (both functions).
pub const ENV_METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {variable}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// The value found.
    pub value: String,
    /// What a valid value looks like.
    pub reason: String,
}

/// The error for `variable`'s `value`, with what a valid value looks like.
pub fn invalid(variable: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A whole number from `min` to `max`.
pub fn parse_size(
    variable: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let reason = || format!("expected a whole number from {min} to {max}");
    let parsed: usize = value
        .trim()
        .parse()
        .map_err(|_| invalid(variable, value, reason()))?;
    if (min..=max).contains(&parsed) {
        Ok(parsed)
    } else {
        Err(invalid(variable, value, reason()))
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case); empty is `false`.
pub fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(variable, value, "expected true or false")),
    }
}

/// A CloudWatch metrics namespace.
pub fn parse_namespace(variable: &'static str, value: String) -> Result<String, ConfigError> {
    // CloudWatch namespaces: 1-255 characters, no leading colon, printable ASCII.
    let valid = !value.is_empty()
        && value.len() <= 255
        && !value.starts_with(':')
        && value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if valid {
        Ok(value)
    } else {
        Err(invalid(
            variable,
            &value,
            "expected 1 to 255 printable ASCII characters, not starting with ':'",
        ))
    }
}
