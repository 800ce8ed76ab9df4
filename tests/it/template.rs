//! `template.yaml` against the code: the S3 prefix, the Glue tables and the function's
//! environment must follow `schema.rs` and `config.rs`, so that a change on one side
//! without the other fails here instead of in a deployed pipeline.
//!
//! The template is read with `serde_norway` (a maintained `serde_yaml` fork), whose
//! `Value::Tagged` keeps CloudFormation short-form tags (`!Sub`, `!If`, `!Join`…).
//! [`evaluate`] resolves the few intrinsics that shape strings, choosing the `true` or
//! the `false` branch of every `!If`: `true` everywhere is the finest layout (the
//! default), `false` everywhere the coarsest.

use std::collections::BTreeSet;
use std::path::Path;

use firehose_logs_processor::processor::config::ENV_VARS;
use firehose_logs_processor::transform::schema::{
    KEY_KIND, KIND_EVENTS, KIND_LOGS, LOG_LINE_FIELDS, PARTITION_KEYS,
};
use serde_norway::Value;

/// The EventBridge envelope, as EventBridge writes it and as the function passes it on.
const EVENTBRIDGE_ENVELOPE: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

const PARTITION_KEY_EXPRESSION: &str = "!{partitionKeyFromLambda:";

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_norway::from_str(&text).expect("template.yaml is valid YAML")
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |node, key| {
        node.get(*key)
            .unwrap_or_else(|| panic!("template has no {key} in {}", path.join(".")))
    })
}

fn properties<'a>(template: &'a Value, resource: &str) -> &'a Value {
    get(template, &["Resources", resource, "Properties"])
}

fn as_str(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

/// A scalar as CloudFormation would pass it on: numbers and booleans become text.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// `!Sub` text with the `${!literal}` escape applied; other `${...}` stay as written.
fn sub_literal(text: &str) -> String {
    text.replace("${!", "${")
}

/// Resolves `!Join`, `!If` (taking `branch`), `!Sub` (escapes only) and plain strings.
fn evaluate(value: &Value, branch: bool) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let args = &tagged.value;
            match tag.as_str() {
                "!Join" => {
                    let delimiter = as_str(&args[0]);
                    let parts = args[1]
                        .as_sequence()
                        .expect("!Join takes a list")
                        .iter()
                        .map(|part| evaluate(part, branch))
                        .collect::<Vec<_>>();
                    parts.join(delimiter)
                }
                "!If" => evaluate(&args[if branch { 1 } else { 2 }], branch),
                "!Sub" => match args {
                    Value::String(text) => sub_literal(text),
                    _ => sub_literal(as_str(&args[0])),
                },
                other => panic!("cannot evaluate {other} here: {args:?}"),
            }
        }
        other => panic!("cannot evaluate {other:?}"),
    }
}

/// Keys of `!{partitionKeyFromLambda:key}` expressions, in order.
fn lambda_keys(prefix: &str) -> Vec<String> {
    prefix
        .split(PARTITION_KEY_EXPRESSION)
        .skip(1)
        .map(|rest| {
            let end = rest
                .find('}')
                .expect("unterminated partition key expression");
            rest[..end].to_owned()
        })
        .collect()
}

fn stream_prefix(template: &Value, branch: bool) -> String {
    let destination = get(
        properties(template, "DeliveryStream"),
        &["ExtendedS3DestinationConfiguration"],
    );
    evaluate(get(destination, &["Prefix"]), branch)
}

/// `key=...` segments of an S3 path, after the kind segment.
fn hive_segments(path: &str) -> Vec<(String, String)> {
    path.split('/')
        .filter_map(|segment| segment.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[test]
fn prefix_uses_exactly_the_function_partition_keys_in_order() {
    let template = template();
    let finest = stream_prefix(&template, true);
    assert_eq!(
        lambda_keys(&finest),
        PARTITION_KEYS,
        "default layout prefix: {finest}"
    );
    assert_eq!(
        as_str(get(
            &template,
            &["Parameters", "PartitionLayout", "Default"]
        )),
        "account-source-hour",
        "the default layout must be the finest one"
    );

    let coarsest = stream_prefix(&template, false);
    let coarse_keys = lambda_keys(&coarsest);
    assert!(
        coarse_keys
            .iter()
            .all(|key| PARTITION_KEYS.contains(&key.as_str())),
        "unknown key in {coarsest}"
    );
    let in_code_order: Vec<_> = PARTITION_KEYS
        .iter()
        .filter(|key| coarse_keys.iter().any(|k| k == *key))
        .collect();
    assert_eq!(
        coarse_keys.iter().collect::<Vec<_>>(),
        in_code_order,
        "coarse layout keeps the code's key order"
    );
    assert!(coarse_keys.contains(&KEY_KIND.to_owned()));

    for prefix in [&finest, &coarsest] {
        assert!(
            prefix.starts_with(&format!("{PARTITION_KEY_EXPRESSION}{KEY_KIND}}}/")),
            "kind must be the first, bare segment (one Glue table per kind): {prefix}"
        );
        assert!(prefix.ends_with('/'), "{prefix}");
        for (key, value) in hive_segments(prefix) {
            assert_eq!(
                value,
                format!("{PARTITION_KEY_EXPRESSION}{key}}}"),
                "Hive-style segment {key}= must hold its own key"
            );
        }
    }
}

#[test]
fn error_prefix_carries_the_error_type_and_the_prefix_does_not() {
    let template = template();
    let destination = get(
        properties(&template, "DeliveryStream"),
        &["ExtendedS3DestinationConfiguration"],
    );
    let error_prefix = as_str(get(destination, &["ErrorOutputPrefix"]));
    assert!(error_prefix.contains("!{firehose:error-output-type}"));
    for branch in [true, false] {
        let prefix = stream_prefix(&template, branch);
        assert!(!prefix.contains("firehose:error-output-type"), "{prefix}");
        assert!(!prefix.contains("!{timestamp:"), "arrival time in {prefix}");
    }
    assert_eq!(
        get(
            destination,
            &["DynamicPartitioningConfiguration", "Enabled"]
        )
        .as_bool(),
        Some(true)
    );
}

fn glue_columns(template: &Value, table: &str) -> Vec<(String, String)> {
    get(
        properties(template, table),
        &["TableInput", "StorageDescriptor", "Columns"],
    )
    .as_sequence()
    .expect("Columns is a list")
    .iter()
    .map(|column| {
        (
            as_str(get(column, &["Name"])).to_owned(),
            as_str(get(column, &["Type"])).to_owned(),
        )
    })
    .collect()
}

#[test]
fn logs_table_columns_are_the_log_line_fields() {
    let expected: Vec<_> = LOG_LINE_FIELDS
        .iter()
        .map(|field| (field.name.to_owned(), field.athena_type.to_owned()))
        .collect();
    assert_eq!(glue_columns(&template(), "LogsTable"), expected);
}

#[test]
fn events_table_columns_are_the_eventbridge_envelope() {
    let template = template();
    let columns = glue_columns(&template, "EventsTable");
    let serde_parameters = get(
        properties(&template, "EventsTable"),
        &["TableInput", "StorageDescriptor", "SerdeInfo", "Parameters"],
    );
    let json_keys: Vec<String> = columns
        .iter()
        .map(|(name, _)| {
            serde_parameters
                .get(format!("mapping.{name}"))
                .map_or_else(|| name.clone(), |key| as_str(key).to_owned())
        })
        .collect();
    assert_eq!(json_keys, EVENTBRIDGE_ENVELOPE);
    for (name, athena_type) in &columns {
        let expected = if name == "resources" {
            "array<string>"
        } else {
            // detail is kept as its JSON text: the OpenX SerDe hands a nested object
            // to a string column as JSON.
            "string"
        };
        assert_eq!(athena_type, expected, "column {name}");
    }
}

#[test]
fn glue_partitions_follow_the_stream_prefix() {
    let template = template();
    for branch in [true, false] {
        let prefix = stream_prefix(&template, branch);
        let prefix_keys: Vec<String> = hive_segments(&prefix).into_iter().map(|(k, _)| k).collect();
        for (table, kind) in [("LogsTable", KIND_LOGS), ("EventsTable", KIND_EVENTS)] {
            let input = get(properties(&template, table), &["TableInput"]);
            let location = evaluate(
                get(input, &["Parameters", "storage.location.template"]),
                branch,
            );
            assert!(
                location.starts_with(&format!("s3://${{LogBucket}}/{kind}/")),
                "{table} location template {location} is not under {kind}/"
            );
            assert_eq!(
                as_str(get(input, &["StorageDescriptor", "Location"])),
                format!("s3://${{LogBucket}}/{kind}/").as_str(),
                "{table} location"
            );
            let segments = hive_segments(&location);
            let path_keys: Vec<String> = segments.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(
                path_keys, prefix_keys,
                "{table} template {location} vs prefix {prefix}"
            );

            let partition_columns: Vec<String> = get(input, &["PartitionKeys"])
                .as_sequence()
                .expect("PartitionKeys is a list")
                .iter()
                .filter_map(|key| match key {
                    Value::Tagged(tagged) if tagged.tag == "If" => {
                        let chosen = &tagged.value[if branch { 1 } else { 2 }];
                        chosen.get("Name").map(|name| as_str(name).to_owned())
                    }
                    other => Some(as_str(get(other, &["Name"])).to_owned()),
                })
                .collect();
            let template_columns: Vec<String> = segments
                .iter()
                .map(|(_, value)| {
                    value
                        .strip_prefix("${")
                        .and_then(|rest| rest.strip_suffix('}'))
                        .unwrap_or_else(|| panic!("{table}: {value} is not ${{column}}"))
                        .to_owned()
                })
                .collect();
            assert_eq!(
                template_columns, partition_columns,
                "{table} partition columns"
            );

            let data_columns: BTreeSet<String> = glue_columns(&template, table)
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            for column in &partition_columns {
                assert!(
                    !data_columns.contains(column),
                    "{table}: partition column {column} repeats a data column (Athena rejects the table)"
                );
                let projection_type = get(input, &["Parameters"])
                    .get(format!("projection.{column}.type"))
                    .unwrap_or_else(|| panic!("{table}: no projection for {column}"));
                let projection_type = match projection_type {
                    Value::Tagged(tagged) => evaluate(&tagged.value[1], branch),
                    other => as_str(other).to_owned(),
                };
                assert!(
                    ["enum", "integer", "date", "injected"].contains(&projection_type.as_str()),
                    "{table}: projection.{column}.type = {projection_type}"
                );
            }
        }
    }
}

#[test]
fn function_environment_is_the_configuration() {
    let template = template();
    let function = properties(&template, "ProcessorFunction");
    let variables = get(function, &["Environment", "Variables"])
        .as_mapping()
        .expect("Variables is a mapping");
    let in_template: BTreeSet<&str> = variables.keys().map(as_str).collect();
    let in_code: BTreeSet<&str> = ENV_VARS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        in_template, in_code,
        "template variables vs firehose_logs_processor::processor::config::ENV_VARS"
    );

    for (name, default) in ENV_VARS {
        let value = &variables[name];
        let deployed_default = match value {
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let parameter = as_str(&tagged.value);
                scalar_text(get(&template, &["Parameters", parameter, "Default"]))
            }
            other => scalar_text(other),
        };
        assert_eq!(
            deployed_default, default,
            "{name}: the template's default differs from the code's"
        );
    }
}

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

// ------------------------------------------------------------------ resolver
//
// A fuller evaluator than [`evaluate`], for strings whose content matters (policy
// documents, selection criteria, the dashboard body): `Ref`, `GetAtt`, `Sub` with its
// variable map, `Join`, `Split`, `Select`, and `If` on the template's own conditions,
// computed from parameter values (defaults unless overridden).

/// A resolved value: CloudFormation's intrinsics produce strings or lists of strings.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
}

impl Resolved {
    fn text(self) -> String {
        match self {
            Resolved::Text(text) => text,
            Resolved::List(list) => panic!("expected a string, found the list {list:?}"),
        }
    }

    fn list(self) -> Vec<String> {
        match self {
            Resolved::List(list) => list,
            Resolved::Text(text) => panic!("expected a list, found {text:?}"),
        }
    }
}

struct Resolver<'a> {
    template: &'a Value,
    /// Parameter values that differ from the defaults, and pseudo parameters.
    values: std::collections::BTreeMap<String, String>,
}

impl<'a> Resolver<'a> {
    fn new(template: &'a Value) -> Self {
        let values = [
            ("AWS::Partition", "aws"),
            ("AWS::Region", "eu-west-1"),
            ("AWS::AccountId", "111111111111"),
            ("AWS::StackName", "firehose-logs-processor"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        Self { template, values }
    }

    fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }

    fn reference(&self, name: &str) -> Resolved {
        if let Some(value) = self.values.get(name) {
            return self.parameter_value(name, value);
        }
        if let Some(parameter) = self.template.get("Parameters").and_then(|p| p.get(name)) {
            let default = parameter
                .get("Default")
                .map(scalar_text)
                .unwrap_or_else(|| panic!("parameter {name} has no default: give it a value"));
            return self.parameter_value(name, &default);
        }
        let resource = get(self.template, &["Resources", name]);
        // What Ref returns for the resource types whose Ref is their name.
        let name_property = match as_str(get(resource, &["Type"])) {
            "AWS::Logs::LogGroup" => "LogGroupName",
            "AWS::Logs::Destination" => "DestinationName",
            "AWS::KinesisFirehose::DeliveryStream" => "DeliveryStreamName",
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => "FunctionName",
            "AWS::S3::Bucket" => "BucketName",
            "AWS::CloudWatch::Dashboard" => "DashboardName",
            "AWS::SQS::Queue" => return Resolved::Text(format!("https://sqs/{name}")),
            other => panic!("Ref {name}: no name property known for {other}"),
        };
        self.resolve(get(resource, &["Properties", name_property]))
    }

    fn parameter_value(&self, name: &str, value: &str) -> Resolved {
        let is_list = self
            .template
            .get("Parameters")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("Type"))
            .and_then(Value::as_str)
            == Some("CommaDelimitedList");
        if is_list {
            Resolved::List(value.split(',').map(str::to_owned).collect())
        } else {
            Resolved::Text(value.to_owned())
        }
    }

    fn get_att(&self, target: &str) -> String {
        self.values
            .get(target)
            .cloned()
            .unwrap_or_else(|| format!("<{target}>"))
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(get(self.template, &["Conditions", name]))
    }

    fn truth(&self, value: &Value) -> bool {
        let Value::Tagged(tagged) = value else {
            panic!("not a condition: {value:?}")
        };
        let args = &tagged.value;
        match tagged.tag.to_string().as_str() {
            "!Equals" => self.resolve(&args[0]) == self.resolve(&args[1]),
            "!Not" => !self.truth(&args[0]),
            "!And" => args.as_sequence().unwrap().iter().all(|a| self.truth(a)),
            "!Or" => args.as_sequence().unwrap().iter().any(|a| self.truth(a)),
            "!Condition" => self.condition(as_str(args)),
            other => panic!("condition function {other} not supported"),
        }
    }

    fn substitute(&self, text: &str, variables: Option<&Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').expect("unterminated ${ in !Sub");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.and_then(|v| v.get(name)) {
                out.push_str(&self.resolve(value).text());
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&self.get_att(name));
            } else {
                out.push_str(&self.reference(name).text());
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&self, value: &Value) -> Resolved {
        match value {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                Resolved::Text(scalar_text(value))
            }
            Value::Sequence(items) => {
                Resolved::List(items.iter().map(|i| self.resolve(i).text()).collect())
            }
            Value::Tagged(tagged) => {
                let args = &tagged.value;
                match tagged.tag.to_string().as_str() {
                    "!Ref" => self.reference(as_str(args)),
                    "!GetAtt" => Resolved::Text(self.get_att(as_str(args))),
                    "!Sub" => Resolved::Text(match args {
                        Value::String(text) => self.substitute(text, None),
                        _ => self.substitute(as_str(&args[0]), Some(&args[1])),
                    }),
                    "!Join" => {
                        let parts = self.resolve(&args[1]).list();
                        Resolved::Text(parts.join(as_str(&args[0])))
                    }
                    "!Split" => {
                        let text = self.resolve(&args[1]).text();
                        Resolved::List(text.split(as_str(&args[0])).map(str::to_owned).collect())
                    }
                    "!Select" => {
                        let index: usize = self.resolve(&args[0]).text().parse().unwrap();
                        let list = self.resolve(&args[1]).list();
                        Resolved::Text(list[index].clone())
                    }
                    "!If" => {
                        let branch = if self.condition(as_str(&args[0])) {
                            1
                        } else {
                            2
                        };
                        self.resolve(&args[branch])
                    }
                    other => panic!("cannot resolve {other}: {args:?}"),
                }
            }
            other => panic!("cannot resolve {other:?}"),
        }
    }
}

fn yaml_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// The names in `LogGroupName NOT IN ["a", "b"]` (the only form CloudWatch Logs accepts).
fn not_in_list(criteria: &str) -> Vec<String> {
    let list = criteria
        .strip_prefix("LogGroupName NOT IN ")
        .unwrap_or_else(|| panic!("not a NOT IN selection: {criteria}"));
    serde_json::from_str(list).unwrap_or_else(|error| panic!("{list}: {error}"))
}

fn resources_of_type<'t>(template: &'t Value, types: &[&str]) -> Vec<(&'t str, &'t Value)> {
    get(template, &["Resources"])
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, resource)| types.contains(&as_str(get(resource, &["Type"]))))
        .map(|(name, resource)| (as_str(name), resource))
        .collect()
}

/// Every log group the stack creates or makes a service write to: `AWS::Logs::LogGroup`
/// resources, each function's log group (its `LoggingConfig`, else Lambda's default
/// `/aws/lambda/<name>`) and the stream's error logging, whatever their conditions.
fn stack_log_groups(resolver: &Resolver) -> BTreeSet<String> {
    let template = resolver.template;
    let mut groups = BTreeSet::new();
    for (_, resource) in resources_of_type(template, &["AWS::Logs::LogGroup"]) {
        groups.insert(
            resolver
                .resolve(get(resource, &["Properties", "LogGroupName"]))
                .text(),
        );
    }
    let functions = resources_of_type(
        template,
        &["AWS::Serverless::Function", "AWS::Lambda::Function"],
    );
    assert!(!functions.is_empty());
    for (name, resource) in functions {
        let properties = get(resource, &["Properties"]);
        let group = match properties
            .get("LoggingConfig")
            .and_then(|c| c.get("LogGroup"))
        {
            Some(group) => resolver.resolve(group).text(),
            None => {
                let function = properties
                    .get("FunctionName")
                    .unwrap_or_else(|| panic!("{name}: no FunctionName, no LoggingConfig"));
                format!("/aws/lambda/{}", resolver.resolve(function).text())
            }
        };
        groups.insert(group);
    }
    for (_, resource) in resources_of_type(template, &["AWS::KinesisFirehose::DeliveryStream"]) {
        let logging = get(
            resource,
            &[
                "Properties",
                "ExtendedS3DestinationConfiguration",
                "CloudWatchLoggingOptions",
            ],
        );
        groups.insert(resolver.resolve(get(logging, &["LogGroupName"])).text());
    }
    groups
}

const WHOLE_ACCOUNT_POLICY: &str = "AccountSubscriptionPolicy";

/// CloudWatch Logs: "The selectionCriteria string can be up to 25KB in length. The
/// length is determined by using its UTF-8 bytes." (PutAccountPolicy,
/// AWS::Logs::AccountPolicy). Counted as 25,000 to stay on the safe side of "KB".
const SELECTION_CRITERIA_MAX_BYTES: usize = 25_000;

#[test]
fn whole_account_policy_excludes_every_log_group_the_stack_writes_to() {
    let template = template();
    for stream in ["central-logs", "a", "x_y-z-1"] {
        let resolver = Resolver::new(&template).with("DeliveryStreamName", stream);
        let own = stack_log_groups(&resolver);
        assert!(
            own.contains(&format!("/aws/lambda/{stream}-processor")),
            "{own:?}"
        );
        assert!(
            own.contains(&format!("/aws/kinesisfirehose/{stream}")),
            "{own:?}"
        );

        let policy = properties(&template, WHOLE_ACCOUNT_POLICY);
        let criteria = resolver.resolve(get(policy, &["SelectionCriteria"])).text();
        let excluded: BTreeSet<String> = not_in_list(&criteria).into_iter().collect();
        let missing: Vec<_> = own.difference(&excluded).collect();
        assert!(
            missing.is_empty(),
            "not excluded: {missing:?} from {criteria}"
        );

        let resolver = resolver.with("ExcludedLogGroupNames", "/ecs/web,/aws/lambda/noisy");
        let criteria = resolver.resolve(get(policy, &["SelectionCriteria"])).text();
        let excluded = not_in_list(&criteria);
        for name in own
            .iter()
            .map(String::as_str)
            .chain(["/ecs/web", "/aws/lambda/noisy"])
        {
            assert!(
                excluded.iter().any(|e| e == name),
                "{name} not in {criteria}"
            );
        }
    }
}

#[test]
fn whole_account_policy_sends_to_the_stream_with_the_subscription_role() {
    let template = template();
    let resource = get(&template, &["Resources", WHOLE_ACCOUNT_POLICY]);
    assert_eq!(
        as_str(get(resource, &["Condition"])),
        "SubscribesWholeAccount"
    );
    let policy = get(resource, &["Properties"]);
    assert_eq!(
        as_str(get(policy, &["PolicyType"])),
        "SUBSCRIPTION_FILTER_POLICY"
    );
    assert_eq!(as_str(get(policy, &["Scope"])), "ALL");

    // The role exists whenever the policy does.
    let scope_whole = Resolver::new(&template).with("SubscriptionScope", "whole-account");
    assert!(scope_whole.condition("SubscribesWholeAccount"));
    let role_condition = as_str(get(
        &template,
        &["Resources", "SubscriptionRole", "Condition"],
    ));
    assert!(scope_whole.condition(role_condition));
    let listed = Resolver::new(&template);
    assert!(
        !listed.condition("SubscribesWholeAccount"),
        "the default keeps setup 1 as it was"
    );

    // Filter patterns with quotes and backslashes survive the JSON document unchanged.
    for pattern in [
        "",
        "ERROR",
        r#"{ $.level = "ERROR" }"#,
        r#"?"timed out" ?Exception"#,
        r#"%\d+ ms%"#,
        r#"{ $.path = "C:\\temp\\" }"#,
    ] {
        let resolver = Resolver::new(&template)
            .with("SubscriptionFilterPattern", pattern)
            .with(
                "DeliveryStream.Arn",
                "arn:aws:firehose:eu-west-1:111111111111:deliverystream/central-logs",
            )
            .with(
                "SubscriptionRole.Arn",
                "arn:aws:iam::111111111111:role/subscription",
            );
        let document = resolver.resolve(get(policy, &["PolicyDocument"])).text();
        let document: serde_json::Value = serde_json::from_str(&document)
            .unwrap_or_else(|error| panic!("pattern {pattern:?}: {error} in {document}"));
        assert_eq!(document["FilterPattern"], pattern);
        assert_eq!(
            document["DestinationArn"],
            "arn:aws:firehose:eu-west-1:111111111111:deliverystream/central-logs"
        );
        assert_eq!(
            document["RoleArn"],
            "arn:aws:iam::111111111111:role/subscription"
        );
    }
}

/// The longest selection criteria a template can produce: the longest stream name and
/// the exclusions parameter at its `MaxLength`, as many one-letter names as fit (each
/// comma becomes `", "`, the worst expansion).
fn longest_selection_criteria(template: &Value, file: &str, policy_resource: &str) -> String {
    let exclusions = get(template, &["Parameters", "ExcludedLogGroupNames"]);
    let max_length = get(exclusions, &["MaxLength"])
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: ExcludedLogGroupNames needs a MaxLength"))
        as usize;
    // The pattern admits ASCII only, so characters are bytes.
    let pattern = as_str(get(exclusions, &["AllowedPattern"]));
    assert!(
        pattern.is_ascii() && !pattern.contains("\\u"),
        "{file}: {pattern}"
    );
    let worst: String = "a,".repeat(max_length / 2 + 1)[..max_length]
        .trim_end_matches(',')
        .to_owned();
    let mut resolver = Resolver::new(template).with("ExcludedLogGroupNames", &worst);
    if file == "sender.yaml" {
        let stream = "s".repeat(47);
        resolver = resolver.with(
            "DestinationArn",
            &format!(
                "arn:aws-us-gov:logs:us-gov-west-1:111111111111:destination:{stream}-destination"
            ),
        );
    } else {
        resolver = resolver.with("DeliveryStreamName", &"s".repeat(47));
    }
    resolver
        .resolve(get(
            properties(template, policy_resource),
            &["SelectionCriteria"],
        ))
        .text()
}

#[test]
fn selection_criteria_stay_under_the_service_limit() {
    for file in ["template.yaml", "sender.yaml"] {
        let template = yaml_file(file);
        let longest = longest_selection_criteria(&template, file, WHOLE_ACCOUNT_POLICY);
        assert!(
            longest.len() <= SELECTION_CRITERIA_MAX_BYTES,
            "{file}: {} bytes of selection criteria",
            longest.len()
        );
        // And it is still a list the service can read.
        assert!(not_in_list(&longest).len() > 1000, "{file}");
    }
}

#[test]
fn sender_policy_points_at_the_destination_the_main_template_exports() {
    let main = template();
    let sender = yaml_file("sender.yaml");

    // The main template's output, spelled out as an ARN of this region and account.
    let output = get(&main, &["Outputs", "CrossAccountDestinationArn", "Value"]);
    let Value::Tagged(tagged) = output else {
        panic!("{output:?}")
    };
    assert_eq!(tagged.tag.to_string(), "!Sub");
    let form = as_str(&tagged.value);
    // `AWS::` spelled without colons, so that the ARN splits into its segments.
    let form = form.replace("AWS::", "AWS.");
    let segments: Vec<&str> = form.split(':').collect();
    assert_eq!(
        segments[..6],
        [
            "arn",
            "${AWS.Partition}",
            "logs",
            "${AWS.Region}",
            "${AWS.AccountId}",
            "destination"
        ],
        "{form}"
    );
    assert_eq!(segments[6], "${CrossAccountDestination}");
    let destination_name = get(
        properties(&main, "CrossAccountDestination"),
        &["DestinationName"],
    );
    let name = match destination_name {
        Value::Tagged(tagged) if tagged.tag == "Sub" => as_str(&tagged.value).to_owned(),
        other => panic!("DestinationName: {other:?}"),
    };
    assert_eq!(name, "${DeliveryStreamName}-destination");
    assert!(
        get(&main, &["Outputs", "CrossAccountDestinationArn", "Export"])
            .get("Name")
            .is_some()
    );

    // The sender's pattern accepts exactly that form: the same seven segments, the
    // stream name under the main template's own pattern.
    let pattern = as_str(get(
        &sender,
        &["Parameters", "DestinationArn", "AllowedPattern"],
    ));
    let parts: Vec<&str> = pattern.split(':').collect();
    assert_eq!(parts.len(), 7, "{pattern}");
    assert_eq!(parts[0], "^arn");
    assert!(parts[1].starts_with("aws"), "partition: {pattern}");
    assert_eq!(parts[2], "logs");
    assert_eq!(parts[4], "[0-9]{12}", "account id");
    assert_eq!(parts[5], "destination");
    let stream_pattern = as_str(get(
        &main,
        &["Parameters", "DeliveryStreamName", "AllowedPattern"],
    ));
    let stream_body = stream_pattern
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .expect("anchored stream name pattern");
    assert_eq!(parts[6], format!("{stream_body}-destination$"), "{pattern}");

    // The policy sends to that parameter, without a role (the destination has its own).
    let policy = properties(&sender, WHOLE_ACCOUNT_POLICY);
    assert_eq!(
        as_str(get(policy, &["PolicyType"])),
        "SUBSCRIPTION_FILTER_POLICY"
    );
    assert_eq!(as_str(get(policy, &["Scope"])), "ALL");
    for stream in ["central-logs", "org_logs-2"] {
        let resolved_main = Resolver::new(&main).with("DeliveryStreamName", stream);
        let arn = resolved_main.resolve(output).text();
        assert_eq!(
            arn,
            format!("arn:aws:logs:eu-west-1:111111111111:destination:{stream}-destination")
        );
        let resolver = Resolver::new(&sender)
            .with("DestinationArn", &arn)
            .with("SubscriptionFilterPattern", r#"{ $.level = "ERROR" }"#);
        let document = resolver.resolve(get(policy, &["PolicyDocument"])).text();
        let document: serde_json::Value = serde_json::from_str(&document).unwrap();
        assert_eq!(document["DestinationArn"], arn.as_str());
        assert_eq!(document["FilterPattern"], r#"{ $.level = "ERROR" }"#);
        assert!(document.get("RoleArn").is_none());

        // The same automatic exclusions as the central stack (in case the sender
        // template reaches the central account too), and the user's.
        let criteria = resolver
            .with("ExcludedLogGroupNames", "/ecs/web")
            .resolve(get(policy, &["SelectionCriteria"]))
            .text();
        let excluded: BTreeSet<String> = not_in_list(&criteria).into_iter().collect();
        let central = stack_log_groups(&resolved_main);
        let missing: Vec<_> = central.difference(&excluded).collect();
        assert!(
            missing.is_empty(),
            "sender does not exclude {missing:?}: {criteria}"
        );
        assert!(excluded.contains("/ecs/web"));
    }
}

#[test]
fn dashboard_names_only_metrics_the_function_emits() {
    use firehose_logs_processor::export::ExportMetrics;
    use firehose_logs_processor::processor::metrics::Metrics;

    let template = template();
    let resolver = Resolver::new(&template).with("LogBucket", "bucket");
    let namespace = resolver.reference("MetricsNamespace").text();
    let stream = resolver.reference("DeliveryStreamName").text();
    let body = resolver
        .resolve(get(
            properties(&template, "PipelineDashboard"),
            &["DashboardBody"],
        ))
        .text();
    let body: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("dashboard body: {error}"));

    let emitted: BTreeSet<&str> = Metrics::default()
        .values()
        .iter()
        .map(|(name, ..)| *name)
        .collect();
    let converter_emitted: BTreeSet<&str> = ExportMetrics::default()
        .values()
        .iter()
        .map(|(name, ..)| *name)
        .collect();
    let mut own = BTreeSet::new();
    let mut converter = BTreeSet::new();
    let mut firehose = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        if widget["type"] != "metric" {
            continue;
        }
        assert!(widget["properties"]["region"].is_string(), "{widget}");
        for metric in widget["properties"]["metrics"].as_array().expect("metrics") {
            let metric = metric.as_array().expect("a metric is an array");
            let name = metric[1].as_str().expect("metric name");
            let dimensions: Vec<&str> = metric[2..]
                .iter()
                .filter_map(serde_json::Value::as_str)
                .collect();
            match metric[0].as_str().expect("namespace") {
                // The processor's metrics carry the stream, the converter's the bucket.
                ns if ns == namespace && dimensions.first() == Some(&"Bucket") => {
                    assert!(
                        converter_emitted.contains(name),
                        "{name} is not emitted by the export converter"
                    );
                    assert_eq!(dimensions, ["Bucket", "bucket"], "{name}");
                    converter.insert(name.to_owned());
                }
                ns if ns == namespace => {
                    assert!(
                        emitted.contains(name),
                        "{name} is not emitted by the function"
                    );
                    assert_eq!(dimensions, ["DeliveryStream", stream.as_str()], "{name}");
                    own.insert(name.to_owned());
                }
                "AWS/Firehose" => {
                    assert_eq!(
                        dimensions,
                        ["DeliveryStreamName", stream.as_str()],
                        "{name}"
                    );
                    firehose.insert(name.to_owned());
                }
                "AWS/Lambda" => {}
                other => panic!("unexpected namespace {other}"),
            }
        }
    }
    for name in [
        "RecordsIn",
        "RecordsOk",
        "RecordsDropped",
        "RecordsProcessingFailed",
        "RecordsSelfSourced",
        "RecordsReingested",
        "RecordSplits",
        "ReingestFailures",
        "BytesInDecompressed",
        "BytesOut",
        "DurationMs",
    ] {
        assert!(own.contains(name), "dashboard lacks {name}");
    }
    for name in [
        "IncomingRecords",
        "DeliveryToS3.DataFreshness",
        "DeliveryToS3.Success",
        "PartitionCount",
    ] {
        assert!(
            firehose.contains(name),
            "dashboard lacks AWS/Firehose {name}"
        );
    }
    for name in ["ExportObjectsConverted", "ExportObjectsFailed"] {
        assert!(
            converter.contains(name),
            "dashboard lacks the converter's {name}"
        );
    }
}

// ------------------------------------------------------------------ export converter

const CONVERTER: &str = "ExportConverterFunction";

#[test]
fn converter_environment_is_its_configuration() {
    use firehose_logs_processor::export::config::ENV_VARS as EXPORT_ENV_VARS;

    let template = template();
    let variables = get(
        properties(&template, CONVERTER),
        &["Environment", "Variables"],
    )
    .as_mapping()
    .expect("Variables is a mapping");
    let in_template: BTreeSet<&str> = variables.keys().map(as_str).collect();
    let in_code: BTreeSet<&str> = EXPORT_ENV_VARS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        in_template, in_code,
        "template variables vs firehose_logs_processor::export::config::ENV_VARS"
    );
    for (name, default) in EXPORT_ENV_VARS {
        match &variables[name] {
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let parameter = as_str(&tagged.value);
                assert_eq!(
                    scalar_text(get(&template, &["Parameters", parameter, "Default"])),
                    default,
                    "{name}: the template's default differs from the code's"
                );
            }
            // The stack's key: the code's default (empty) means the bucket's default
            // encryption, which is the same key.
            Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
                assert_eq!(name, "OUTPUT_KMS_KEY_ARN");
                assert_eq!(as_str(&tagged.value), "DataKey.Arn");
            }
            other => assert_eq!(scalar_text(other), default, "{name}"),
        }
    }
    // The converter and the processor agree on what they share.
    let processor = get(
        properties(&template, "ProcessorFunction"),
        &["Environment", "Variables"],
    );
    for shared in ["METRICS_NAMESPACE", "PARSE_JSON_MESSAGES"] {
        assert_eq!(processor[shared], variables[shared], "{shared}");
    }
    assert_eq!(
        variables["PARTITION_LAYOUT"],
        serde_norway::from_str::<Value>("!Ref PartitionLayout").unwrap()
    );
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
    let group = resolver
        .resolve(get(function, &["LoggingConfig", "LogGroup"]))
        .text();
    assert_eq!(group, "/aws/lambda/central-logs-export-converter");
    let criteria = resolver
        .resolve(get(
            properties(&template, WHOLE_ACCOUNT_POLICY),
            &["SelectionCriteria"],
        ))
        .text();
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
        let function_name = longest_names
            .resolve(get(properties(&template, name), &["FunctionName"]))
            .text();
        assert!(function_name.len() <= 64, "{function_name}");
    }

    // A failed object's event is kept: retries, then the on-failure destination.
    let invoke = get(function, &["EventInvokeConfig"]);
    assert!(get(invoke, &["MaximumRetryAttempts"]).as_u64().is_some());
    let destination = get(invoke, &["DestinationConfig", "OnFailure"]);
    assert_eq!(as_str(get(destination, &["Type"])), "SQS");
}

/// Actions the converter's role allows, with their resources, as `!Sub` text.
fn converter_grants(template: &Value) -> Vec<(String, Vec<String>)> {
    let policies = get(properties(template, "ExportConverterRole"), &["Policies"])
        .as_sequence()
        .expect("Policies is a list");
    let mut grants = Vec::new();
    for policy in policies {
        for statement in get(policy, &["PolicyDocument", "Statement"])
            .as_sequence()
            .unwrap()
        {
            assert_eq!(as_str(get(statement, &["Effect"])), "Allow");
            let resource = match get(statement, &["Resource"]) {
                Value::Tagged(tagged) if tagged.tag == "Sub" => sub_literal(as_str(&tagged.value)),
                Value::Tagged(tagged) if tagged.tag == "GetAtt" => as_str(&tagged.value).to_owned(),
                other => panic!("resource {other:?}"),
            };
            let actions = match get(statement, &["Action"]) {
                Value::Sequence(list) => list.iter().map(|a| as_str(a).to_owned()).collect(),
                single => vec![as_str(single).to_owned()],
            };
            grants.push((resource, actions));
        }
    }
    grants
}

/// The converter stages outputs as multipart uploads: what an invocation that dies before
/// publishing or discarding them leaves, the bucket's lifecycle rule removes.
#[test]
fn incomplete_uploads_are_removed_by_the_buckets_lifecycle() {
    let template = template();
    let rules = get(
        properties(&template, "LogBucket"),
        &["LifecycleConfiguration", "Rules"],
    );
    let Value::Sequence(rules) = rules else {
        panic!("lifecycle rules are a list: {rules:?}");
    };
    let abort = rules
        .iter()
        .find(|rule| rule.get("AbortIncompleteMultipartUpload").is_some())
        .expect("a rule aborts incomplete multipart uploads");
    assert_eq!(as_str(get(abort, &["Status"])), "Enabled");
    assert!(
        abort.get("Prefix").is_none() && abort.get("TagFilters").is_none(),
        "the rule covers the whole bucket, logs/ included: {abort:?}"
    );
    let days = get(
        abort,
        &["AbortIncompleteMultipartUpload", "DaysAfterInitiation"],
    );
    assert_eq!(
        days.as_u64(),
        Some(1),
        "one day, as the README says: {days:?}"
    );
}

#[test]
fn converter_reads_exports_writes_logs_and_nothing_else_in_the_bucket() {
    use firehose_logs_processor::export::config::ENV_VARS as EXPORT_ENV_VARS;
    use firehose_logs_processor::transform::schema::KIND_LOGS;

    let template = template();
    let grants = converter_grants(&template);
    let s3: Vec<(&str, &str)> = grants
        .iter()
        .flat_map(|(resource, actions)| {
            actions
                .iter()
                .filter(|a| a.starts_with("s3:"))
                .map(move |a| (a.as_str(), resource.as_str()))
        })
        .collect();
    let export_prefix = EXPORT_ENV_VARS
        .iter()
        .find(|(name, _)| *name == "EXPORT_PREFIX")
        .map(|(_, default)| *default)
        .unwrap();
    let variables = get(
        properties(&template, CONVERTER),
        &["Environment", "Variables"],
    );
    assert_eq!(as_str(&variables["EXPORT_PREFIX"]), export_prefix);
    assert_eq!(
        s3,
        [
            (
                "s3:GetObject",
                format!("${{LogBucket.Arn}}/{export_prefix}/*").as_str()
            ),
            (
                "s3:PutObject",
                format!("${{LogBucket.Arn}}/{KIND_LOGS}/*").as_str()
            ),
            (
                "s3:AbortMultipartUpload",
                format!("${{LogBucket.Arn}}/{KIND_LOGS}/*").as_str()
            ),
        ],
        "exactly: read the exports, write (stage, publish, discard) the logs"
    );
    for (resource, actions) in &grants {
        for action in actions {
            assert!(
                !action.contains('*') && !action.contains("Delete") && action != "s3:ListBucket",
                "{action} on {resource}"
            );
        }
    }

    // The trigger: Object Created under the export prefix of this bucket.
    let event = get(
        properties(&template, CONVERTER),
        &["Events", "ExportObjectCreated"],
    );
    assert_eq!(as_str(get(event, &["Type"])), "EventBridgeRule");
    let pattern = get(event, &["Properties", "Pattern"]);
    assert_eq!(as_str(&get(pattern, &["source"])[0]), "aws.s3");
    assert_eq!(as_str(&get(pattern, &["detail-type"])[0]), "Object Created");
    let prefix = as_str(get(
        &get(pattern, &["detail", "object", "key"])[0],
        &["prefix"],
    ));
    assert_eq!(prefix, format!("{export_prefix}/"));
    let notification = get(
        properties(&template, "LogBucket"),
        &["NotificationConfiguration"],
    );
    let Value::Tagged(tagged) = notification else {
        panic!("{notification:?}")
    };
    assert_eq!(as_str(&tagged.value[0]), "ExportsEnabled");
    assert_eq!(
        get(
            &tagged.value[1],
            &["EventBridgeConfiguration", "EventBridgeEnabled"]
        )
        .as_bool(),
        Some(true)
    );
}

#[test]
fn export_tasks_may_write_only_under_their_own_accounts_folder() {
    use firehose_logs_processor::export::key::destination_prefix;

    let template = template();
    let statements = get(
        properties(&template, "LogBucketPolicy"),
        &["PolicyDocument", "Statement"],
    )
    .as_sequence()
    .unwrap();
    let mut export_puts = 0;
    for statement in statements {
        let Value::Tagged(tagged) = statement else {
            continue;
        };
        let statement = &tagged.value[1];
        if as_str(get(statement, &["Action"])) != "s3:PutObject" {
            continue;
        }
        export_puts += 1;
        let Value::Tagged(resource) = get(statement, &["Resource"]) else {
            panic!("{statement:?}")
        };
        let resource = as_str(&resource.value);
        let variable = if resource.contains("${!aws:SourceAccount}") {
            "${!aws:SourceAccount}"
        } else {
            "${!aws:PrincipalAccount}"
        };
        // What a task started by make export-logs (or by hand, per the README) writes.
        let key = format!(
            "{}/0f1e2d3c/2026-11-22-[$LATEST]0a1b/000000.gz",
            destination_prefix("exports", "222222222222", "/aws/lambda/app#1")
        );
        let allowed = resource
            .replace(variable, "222222222222")
            .strip_prefix("${LogBucket.Arn}/")
            .and_then(|r| r.strip_suffix('*'))
            .unwrap_or_else(|| panic!("{resource}"))
            .to_owned();
        assert_eq!(allowed, "exports/222222222222/");
        assert!(key.starts_with(&allowed), "{key} outside {allowed}");
        let other = destination_prefix("exports", "333333333333", "/aws/lambda/app");
        assert!(!other.starts_with(&allowed));
        assert_eq!(
            get(statement, &["Condition", "StringEquals", "s3:x-amz-acl"]).as_str(),
            Some("bucket-owner-full-control")
        );
    }
    assert!(export_puts >= 3, "service and sender statements");
}
