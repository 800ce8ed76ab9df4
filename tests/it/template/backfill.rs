//! Setup 4, the backfill: its state machine asks the export converter for each log
//! group's plan and the tally, in the shapes `src/export/backfill.rs` reads; it selects
//! the log groups setup 1 subscribes (the same exclusions, the same filter and policy
//! names); and its role reaches only this account's logs, its table and the converter.

use serde_json::{json, Value as Json};

use super::{not_in_list, properties, template, WHOLE_ACCOUNT_POLICY};
use crate::cfn::{as_str, get, Resolver};
use firehose_logs_processor::export::backfill;

const MACHINE: &str = "BackfillStateMachine";

/// The machine's exclusions and policy name are those of the account policy of the same
/// template, as `resolver` evaluates them; returns the machine's substitutions.
fn assert_selection_is_the_policys<'t>(resolver: &Resolver<'t>) -> &'t serde_norway::Value {
    let template = resolver.template();
    let substitutions = get(properties(template, MACHINE), &["DefinitionSubstitutions"]);
    let excluded: Vec<String> = resolver
        .text(get(substitutions, &["Excluded"]))
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let policy = properties(template, WHOLE_ACCOUNT_POLICY);
    assert_eq!(
        excluded,
        not_in_list(&resolver.text(get(policy, &["SelectionCriteria"])))
    );
    assert_eq!(
        resolver.text(get(substitutions, &["PolicyName"])),
        resolver.text(get(policy, &["PolicyName"]))
    );
    substitutions
}

/// The definition with its substitutions filled as `resolver` evaluates them, as JSON.
fn definition(resolver: &Resolver) -> Json {
    let template = resolver.template();
    let machine = properties(template, MACHINE);
    let mut text =
        serde_json::to_string(&serde_json::to_value(get(machine, &["Definition"])).unwrap())
            .unwrap();
    for (name, value) in get(machine, &["DefinitionSubstitutions"])
        .as_mapping()
        .unwrap()
    {
        let value = resolver.text(value);
        let quoted = serde_json::to_string(&value).unwrap();
        text = text.replace(
            &format!("${{{}}}", as_str(name)),
            &quoted[1..quoted.len() - 1],
        );
    }
    assert!(!text.contains("${"), "every substitution filled: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A state of the definition, top level or inside the Map.
fn state<'a>(definition: &'a Json, name: &str) -> &'a Json {
    definition["States"]
        .get(name)
        .or_else(|| definition["States"]["EachLogGroup"]["ItemProcessor"]["States"].get(name))
        .unwrap_or_else(|| panic!("no state {name}"))
}

/// `payload` as the state would send it, each `"key.$": path` given `sample(path)`.
fn fill(payload: &Json, sample: &dyn Fn(&str) -> Json) -> Json {
    match payload {
        Json::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(key, value)| match key.strip_suffix(".$") {
                    Some(key) => (key.to_owned(), sample(value.as_str().unwrap())),
                    None => (key.clone(), fill(value, sample)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn the_converter_reads_what_the_machine_sends() {
    let template = template();
    let resolver = Resolver::new(&template)
        .with("SubscriptionScope", "whole-account")
        .with("ExcludedLogGroupNames", "/noisy,/ecs/a#b")
        .with("BackfillProgressTable", "progress");
    let definition = definition(&resolver);
    let plan = |path: &str| match path {
        "$.logGroup" => {
            json!({"LogGroupName": "/ecs/web#blue", "CreationTime": 1_000, "Arn": "arn"})
        }
        "$.input.Prefix" => json!(""),
        "$.filters.list" => json!([{"FilterName": "to-central-logs", "CreationTime": 50_000}]),
        "$.accountPolicies" => {
            json!([{"PolicyName": "to-central-logs", "LastUpdatedTime": 60_000}])
        }
        "$.progress" => json!({"Item": {"exportedTo": {"N": "9999"}}}),
        "$.input.Since" => Json::Null,
        "$.input.Until" => json!(100_000),
        other => panic!("a path the test does not know: {other}"),
    };
    let payload = fill(&state(&definition, "Plan")["Parameters"]["Payload"], &plan);
    let answer = backfill::answer("exports", &payload).unwrap().unwrap();
    assert_eq!(answer["action"], "export", "{answer}");
    assert_eq!(
        (answer["from"].as_i64(), answer["to"].as_i64()),
        (Some(10_000), Some(49_999))
    );
    assert_eq!(
        answer["destinationPrefix"],
        "exports/111111111111/!ecs!web*23blue"
    );
    assert_eq!(
        state(&definition, "Export")["Parameters"]["DestinationPrefix.$"],
        "$.plan.value.destinationPrefix"
    );

    let tally = |path: &str| match path {
        "$.tally.Payload" => Json::Null,
        "$.outcomes" => json!([{"logGroupName": "/a", "outcome": "exported"}]),
        other => panic!("a path the test does not know: {other}"),
    };
    let payload = fill(
        &state(&definition, "Tally")["Parameters"]["Payload"],
        &tally,
    );
    let answer = backfill::answer("exports", &payload).unwrap().unwrap();
    assert_eq!(answer["exported"], 1, "{answer}");
}

#[test]
fn selects_what_setup_one_subscribes() {
    let template = template();
    for (scope, extra) in [("whole-account", ""), ("whole-account", "/noisy,/ecs/a#b")] {
        let resolver = Resolver::new(&template)
            .with("SubscriptionScope", scope)
            .with("ExcludedLogGroupNames", extra);
        let substitutions = assert_selection_is_the_policys(&resolver);
        assert_eq!(
            resolver.text(get(substitutions, &["FilterName"])),
            resolver.text(get(
                properties(&template, "SubscriptionFilter1"),
                &["FilterName"]
            ))
        );
    }
    let listed = Resolver::new(&template).with("SubscribedLogGroupNames", "/a,/ecs/web#blue");
    let substitutions = get(properties(&template, MACHINE), &["DefinitionSubstitutions"]);
    assert_eq!(
        listed.text(get(substitutions, &["Listed"])),
        "/a,/ecs/web#blue"
    );
    // On by default whenever exports are.
    assert!(Resolver::new(&template).condition("BackfillEnabled"));
    assert!(!Resolver::new(&template)
        .with("EnableExportTasks", "false")
        .condition("BackfillEnabled"));
}

#[test]
fn the_role_reaches_only_this_accounts_logs_its_table_and_the_converter() {
    let template = template();
    let resolver = Resolver::new(&template)
        .with(
            "BackfillProgressTable.Arn",
            "arn:aws:dynamodb:eu-west-1:111111111111:table/t",
        )
        .with("DataKey.Arn", "arn:aws:kms:eu-west-1:111111111111:key/k")
        .with(
            "ExportConverterFunction.Arn",
            "arn:aws:lambda:eu-west-1:111111111111:function:f",
        );
    let policies = get(properties(&template, "BackfillRole"), &["Policies"])
        .as_sequence()
        .unwrap();
    let mut actions = Vec::new();
    for statement in get(&policies[0], &["PolicyDocument", "Statement"])
        .as_sequence()
        .unwrap()
    {
        let resource = resolver.text(get(statement, &["Resource"]));
        assert!(resource.contains("111111111111"), "{resource}");
        let granted: Vec<String> = match get(statement, &["Action"]) {
            serde_norway::Value::Sequence(list) => {
                list.iter().map(|a| as_str(a).to_owned()).collect()
            }
            single => vec![as_str(single).to_owned()],
        };
        for action in granted {
            if action.starts_with("logs:") {
                assert!(
                    resource.starts_with("arn:aws:logs:eu-west-1:111111111111:"),
                    "{action} on {resource}"
                );
            }
            actions.push(action);
        }
    }
    actions.sort();
    assert_eq!(
        actions,
        [
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "lambda:InvokeFunction",
            "logs:CreateExportTask",
            "logs:DescribeAccountPolicies",
            "logs:DescribeExportTasks",
            "logs:DescribeLogGroups",
            "logs:DescribeSubscriptionFilters",
        ]
    );
}

/// Sender accounts run the same backfill (export tasks run in the account that owns the
/// log groups): the same definition, their own policy's exclusions, and the central
/// converter's plan.
#[test]
fn senders_run_the_same_backfill() {
    let central = template();
    let sender = crate::cfn::load("sender.yaml");
    assert_eq!(
        get(properties(&sender, MACHINE), &["Definition"]),
        get(properties(&central, MACHINE), &["Definition"]),
        "sender.yaml's state machine is template.yaml's, verbatim"
    );
    let resolver = Resolver::new(&sender)
        .with(
            "DestinationArn",
            "arn:aws:logs:eu-west-1:222222222222:destination:central-logs-destination",
        )
        .with("ExcludedLogGroupNames", "/noisy")
        .with("CentralBucketName", "central")
        .with(
            "PlanFunctionArn",
            "arn:aws:lambda:eu-west-1:222222222222:function:central-logs-export-converter",
        );
    assert!(resolver.condition("BackfillEnabled"));
    let substitutions = assert_selection_is_the_policys(&resolver);
    assert_eq!(
        resolver.text(get(substitutions, &["Scope"])),
        "whole-account"
    );
}
