//! Each function's environment is its configuration: the variables the code reads, each
//! deployed with the code's default unless the stack itself supplies the value.

use std::collections::BTreeMap;

use firehose_logs_processor::processor::config::ENV_VARS;
use serde_norway::Value;

use super::{properties, template};
use crate::cfn::{as_str, get, Resolver};

/// The stack's KMS key, as a test gives it.
const DATA_KEY_ARN: &str = "arn:aws:kms:eu-west-1:111111111111:key/data";

/// `function`'s environment as deployed with the template's defaults.
fn deployed_environment(template: &Value, function: &str) -> BTreeMap<String, String> {
    let resolver = Resolver::new(template).with("DataKey.Arn", DATA_KEY_ARN);
    get(
        properties(template, function),
        &["Environment", "Variables"],
    )
    .as_mapping()
    .expect("Variables is a mapping")
    .iter()
    .map(|(name, value)| (as_str(name).to_owned(), resolver.text(value)))
    .collect()
}

/// The code's variables and their defaults, `overrides` replacing some of the defaults.
fn in_code(env_vars: &[(&str, &str)], overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    env_vars
        .iter()
        .chain(overrides)
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn function_environment_is_the_configuration() {
    assert_eq!(
        deployed_environment(&template(), "ProcessorFunction"),
        in_code(&ENV_VARS, &[]),
        "template variables and defaults vs firehose_logs_processor::processor::config::ENV_VARS"
    );
}

#[test]
fn converter_environment_is_its_configuration() {
    use firehose_logs_processor::export::config::ENV_VARS as EXPORT_ENV_VARS;

    let template = template();
    // The stack's key: the code's default (empty) means the bucket's default
    // encryption, which is the same key.
    assert!(EXPORT_ENV_VARS.contains(&("OUTPUT_KMS_KEY_ARN", "")));
    assert_eq!(
        deployed_environment(&template, "ExportConverterFunction"),
        in_code(&EXPORT_ENV_VARS, &[("OUTPUT_KMS_KEY_ARN", DATA_KEY_ARN)]),
        "template variables and defaults vs firehose_logs_processor::export::config::ENV_VARS"
    );

    // The converter and the processor agree on what they share.
    let variables = |function| {
        get(
            properties(&template, function),
            &["Environment", "Variables"],
        )
    };
    let (processor, converter) = (
        variables("ProcessorFunction"),
        variables("ExportConverterFunction"),
    );
    for shared in ["METRICS_NAMESPACE", "PARSE_JSON_MESSAGES"] {
        assert_eq!(processor[shared], converter[shared], "{shared}");
    }
    assert_eq!(
        converter["PARTITION_LAYOUT"],
        serde_norway::from_str::<Value>("!Ref PartitionLayout").unwrap()
    );
}
