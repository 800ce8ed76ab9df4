//! Setup 4, export tasks: the converter reads exports/ and writes logs/ and nothing else,
//! is triggered by the bucket's Object Created events, its staged uploads cannot
//! outlive a day, and each account's export tasks write only under its own folder.

use serde_norway::Value;

use super::{properties, template};
use crate::cfn::{as_str, get, Resolver};

const CONVERTER: &str = "ExportConverterFunction";

/// The bucket's ARN, as a test gives it.
const BUCKET_ARN: &str = "arn:aws:s3:::bucket";

/// Actions the converter's role allows, with their resources.
fn converter_grants(template: &Value) -> Vec<(String, Vec<String>)> {
    let resolver = Resolver::new(template).with("LogBucket.Arn", BUCKET_ARN);
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
            // Each resource is one of the stack's own, named through it.
            let resource = get(statement, &["Resource"]);
            assert!(
                matches!(resource, Value::Tagged(tagged) if tagged.tag == "Sub" || tagged.tag == "GetAtt"),
                "resource {resource:?}"
            );
            let resource = resolver.text(resource);
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
        "one day, as docs/history.md says: {days:?}"
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
                format!("{BUCKET_ARN}/{export_prefix}/*").as_str()
            ),
            (
                "s3:PutObject",
                format!("{BUCKET_ARN}/{KIND_LOGS}/*").as_str()
            ),
            (
                "s3:AbortMultipartUpload",
                format!("{BUCKET_ARN}/{KIND_LOGS}/*").as_str()
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
    // The bucket sends its events to EventBridge whenever the converter exists.
    for enabled in ["true", "false"] {
        let resolver = Resolver::new(&template).with("EnableExportTasks", enabled);
        let bucket = resolver
            .resolve(properties(&template, "LogBucket"))
            .expect("the bucket's properties");
        let eventbridge = bucket.get("NotificationConfiguration").map(|notification| {
            get(
                notification,
                &["EventBridgeConfiguration", "EventBridgeEnabled"],
            )
        });
        assert_eq!(
            eventbridge.and_then(Value::as_str),
            resolver.condition("ExportsEnabled").then_some("true"),
            "EnableExportTasks={enabled}"
        );
    }
}

#[test]
fn export_tasks_may_write_only_under_their_own_accounts_folder() {
    use firehose_logs_processor::export::key::destination_prefix;

    let template = template();
    // Every statement there is: the service's and the senders', by account and by
    // organization.
    let resolver = Resolver::new(&template)
        .with("LogBucket.Arn", BUCKET_ARN)
        .with("SenderAccountIds", "222222222222,444444444444")
        .with("SenderOrganizationId", "o-abcdefghij");
    let policy = resolver
        .resolve(get(
            properties(&template, "LogBucketPolicy"),
            &["PolicyDocument"],
        ))
        .expect("the bucket's policy");
    let statements = get(&policy, &["Statement"]).as_sequence().unwrap();
    let mut export_puts = 0;
    for statement in statements {
        if as_str(get(statement, &["Action"])) != "s3:PutObject" {
            continue;
        }
        export_puts += 1;
        let resource = as_str(get(statement, &["Resource"]));
        let variable = if resource.contains("${aws:SourceAccount}") {
            "${aws:SourceAccount}"
        } else {
            "${aws:PrincipalAccount}"
        };
        // What a task started by make export-logs (or by hand, per docs/history.md) writes.
        let key = format!(
            "{}/0f1e2d3c/2026-11-22-[$LATEST]0a1b/000000.gz",
            destination_prefix("exports", "222222222222", "/aws/lambda/app#1")
        );
        let allowed = resource
            .replace(variable, "222222222222")
            .strip_prefix(&format!("{BUCKET_ARN}/"))
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
