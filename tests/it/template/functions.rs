//! Both functions are built from this package's binaries, run on the runtime and
//! architecture CI builds for, and log as the account-wide policy expects.

use std::path::Path;

use super::{not_in_list, properties, template, WHOLE_ACCOUNT_POLICY};
use crate::cfn::{as_str, get, Resolver};

const CONVERTER: &str = "ExportConverterFunction";

#[test]
fn function_is_built_and_run_as_the_cargo_package() {
    let template = template();
    let resource = get(&template, &["Resources", "ProcessorFunction"]);
    assert_eq!(
        as_str(get(resource, &["Type"])),
        "AWS::Serverless::Function"
    );
    assert_eq!(
        as_str(get(resource, &["Metadata", "BuildMethod"])),
        "rust-cargolambda"
    );
    assert_eq!(
        as_str(get(resource, &["Metadata", "BuildProperties", "Binary"])),
        env!("CARGO_PKG_NAME")
    );
    let function = get(resource, &["Properties"]);
    assert_eq!(as_str(get(function, &["Handler"])), "bootstrap");
    assert_eq!(as_str(get(function, &["Runtime"])), "provided.al2023");
    assert_eq!(as_str(get(function, &["CodeUri"])), ".");
    assert_eq!(
        get(function, &["Architectures"])
            .as_sequence()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(as_str(&get(function, &["Architectures"])[0]), "arm64");
    assert_eq!(
        as_str(get(function, &["LoggingConfig", "LogFormat"])),
        "JSON"
    );
    // Firehose allows the processor at most five minutes.
    let max_timeout = get(
        &template,
        &["Parameters", "FunctionTimeoutSeconds", "MaxValue"],
    );
    assert!(max_timeout.as_u64().is_some_and(|seconds| seconds <= 300));
}

#[test]
fn converter_is_built_as_its_binary_and_logs_where_the_policy_excludes() {
    let template = template();
    let resource = get(&template, &["Resources", CONVERTER]);
    assert_eq!(as_str(get(resource, &["Condition"])), "ExportsEnabled");
    assert_eq!(
        as_str(get(resource, &["Metadata", "BuildMethod"])),
        "rust-cargolambda"
    );
    let binary = as_str(get(resource, &["Metadata", "BuildProperties", "Binary"]));
    assert_eq!(binary, "export-converter");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/bin/{binary}.rs"));
    assert!(source.exists(), "no binary target {}", source.display());

    let function = get(resource, &["Properties"]);
    assert_eq!(as_str(get(function, &["Runtime"])), "provided.al2023");
    assert_eq!(as_str(&get(function, &["Architectures"])[0]), "arm64");
    assert_eq!(get(function, &["Timeout"]).as_u64(), Some(900));
    assert_eq!(
        as_str(get(function, &["LoggingConfig", "LogFormat"])),
        "JSON"
    );

    let resolver = Resolver::new(&template);
    let group = resolver.text(get(function, &["LoggingConfig", "LogGroup"]));
    assert_eq!(group, "/aws/lambda/central-logs-export-converter");
    let criteria = resolver.text(get(
        properties(&template, WHOLE_ACCOUNT_POLICY),
        &["SelectionCriteria"],
    ));
    assert!(not_in_list(&criteria).contains(&group), "{criteria}");

    // Lambda allows 64 characters in a function name: both names fit for the longest
    // stream name the parameter admits.
    let pattern = as_str(get(
        &template,
        &["Parameters", "DeliveryStreamName", "AllowedPattern"],
    ));
    let longest: usize = pattern
        .rsplit_once(',')
        .and_then(|(_, max)| max.strip_suffix("}$"))
        .and_then(|max| max.parse().ok())
        .unwrap_or_else(|| panic!("no {{1,N}} in {pattern}"));
    let longest_names = Resolver::new(&template).with("DeliveryStreamName", &"s".repeat(longest));
    for name in ["ProcessorFunction", CONVERTER] {
        let function_name = longest_names.text(get(properties(&template, name), &["FunctionName"]));
        assert!(function_name.len() <= 64, "{function_name}");
    }

    // A failed object's event is kept: retries, then the on-failure destination.
    let invoke = get(function, &["EventInvokeConfig"]);
    assert!(get(invoke, &["MaximumRetryAttempts"]).as_u64().is_some());
    let destination = get(invoke, &["DestinationConfig", "OnFailure"]);
    assert_eq!(as_str(get(destination, &["Type"])), "SQS");
}
