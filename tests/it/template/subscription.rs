//! The account-wide subscription policy, in the main template and in the sender's: it
//! sends to the stream (or the destination the main template exports), excludes every
//! log group the stack writes to, and its selection criteria stay under the service's
//! limit.

use std::collections::BTreeSet;

use serde_norway::Value;

use super::{not_in_list, properties, template, WHOLE_ACCOUNT_POLICY};
use crate::cfn::{as_str, get, load, Resolver};

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
    let template = resolver.template();
    let mut groups = BTreeSet::new();
    for (_, resource) in resources_of_type(template, &["AWS::Logs::LogGroup"]) {
        groups.insert(resolver.text(get(resource, &["Properties", "LogGroupName"])));
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
            Some(group) => resolver.text(group),
            None => {
                let function = properties
                    .get("FunctionName")
                    .unwrap_or_else(|| panic!("{name}: no FunctionName, no LoggingConfig"));
                format!("/aws/lambda/{}", resolver.text(function))
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
        groups.insert(resolver.text(get(logging, &["LogGroupName"])));
    }
    groups
}

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
        let criteria = resolver.text(get(policy, &["SelectionCriteria"]));
        let excluded: BTreeSet<String> = not_in_list(&criteria).into_iter().collect();
        let missing: Vec<_> = own.difference(&excluded).collect();
        assert!(
            missing.is_empty(),
            "not excluded: {missing:?} from {criteria}"
        );

        let resolver = resolver.with("ExcludedLogGroupNames", "/ecs/web,/aws/lambda/noisy");
        let criteria = resolver.text(get(policy, &["SelectionCriteria"]));
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
        let document = resolver.text(get(policy, &["PolicyDocument"]));
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
    resolver.text(get(
        properties(template, policy_resource),
        &["SelectionCriteria"],
    ))
}

#[test]
fn selection_criteria_stay_under_the_service_limit() {
    for file in ["template.yaml", "sender.yaml"] {
        let template = load(file);
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
    let sender = load("sender.yaml");

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
        let arn = resolved_main.text(output);
        assert_eq!(
            arn,
            format!("arn:aws:logs:eu-west-1:111111111111:destination:{stream}-destination")
        );
        let resolver = Resolver::new(&sender)
            .with("DestinationArn", &arn)
            .with("SubscriptionFilterPattern", r#"{ $.level = "ERROR" }"#);
        let document = resolver.text(get(policy, &["PolicyDocument"]));
        let document: serde_json::Value = serde_json::from_str(&document).unwrap();
        assert_eq!(document["DestinationArn"], arn.as_str());
        assert_eq!(document["FilterPattern"], r#"{ $.level = "ERROR" }"#);
        assert!(document.get("RoleArn").is_none());

        // The same automatic exclusions as the central stack (in case the sender
        // template reaches the central account too), and the user's.
        let criteria = resolver
            .with("ExcludedLogGroupNames", "/ecs/web")
            .text(get(policy, &["SelectionCriteria"]));
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
