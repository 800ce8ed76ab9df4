//! `template.yaml` (and `sender.yaml`) against the code: the S3 prefix, the Glue tables,
//! the functions' environments, the policies and the dashboard must follow `schema.rs`,
//! the configurations and the metrics, so that a change on one side without the other
//! fails here instead of in a deployed pipeline. Intrinsics are evaluated by
//! [`crate::cfn::Resolver`], for the parameter values each test names.

mod backfill;
mod dashboard;
mod env;
mod exports;
mod functions;
mod glue;
mod layout;
mod subscription;

use serde_norway::Value;

use crate::cfn::{as_str, get, load};

/// The account-wide subscription policy, in `template.yaml` and in `sender.yaml`.
const WHOLE_ACCOUNT_POLICY: &str = "AccountSubscriptionPolicy";

fn template() -> Value {
    load("template.yaml")
}

fn properties<'a>(template: &'a Value, resource: &str) -> &'a Value {
    get(template, &["Resources", resource, "Properties"])
}

/// The values the `PartitionLayout` parameter allows.
fn partition_layouts(template: &Value) -> Vec<&str> {
    get(
        template,
        &["Parameters", "PartitionLayout", "AllowedValues"],
    )
    .as_sequence()
    .expect("AllowedValues is a list")
    .iter()
    .map(as_str)
    .collect()
}

/// The names in `LogGroupName NOT IN ["a", "b"]` (the only form CloudWatch Logs accepts).
fn not_in_list(criteria: &str) -> Vec<String> {
    let list = criteria
        .strip_prefix("LogGroupName NOT IN ")
        .unwrap_or_else(|| panic!("not a NOT IN selection: {criteria}"));
    serde_json::from_str(list).unwrap_or_else(|error| panic!("{list}: {error}"))
}
