//! The backfill's decisions, for the Step Functions state machine that exports every log
//! group's history (template.yaml, `BackfillStateMachine`): which groups it exports,
//! over which time range and under which destination prefix, and the tally it ends with.
//! The state machine does the calls (DescribeLogGroups, DescribeSubscriptionFilters,
//! CreateExportTask, DynamoDB); what ASL cannot express well is here, pure, and reached
//! through the export converter's function (a second and third event shape), so that the
//! export prefix keeps one implementation ([`crate::export::key`]).
//!
//! A group's history runs up to the moment its live subscription started, so that
//! history and live data meet with no gap and no overlap:
//!
//! - **live start**: the earliest of the creation time of the group's subscription filter
//!   (the stack's filter name) and, with the whole-account scope, the account policy's
//!   last update time; none when the group has no live subscription yet;
//! - **until**: the newest time a run exports (the input's `Until`: `make backfill` gives
//!   the execution's start less the service's 12-hour export delay), so that a range is
//!   exported only once its events can all be exported;
//! - **progress**: the inclusive end of the last range exported (`exportedTo`, kept in a
//!   DynamoDB item per group), so that a later run exports only what follows it.
//!
//! The range is `[max(since, exportedTo + 1), min(live start, until) - 1]`, both ends
//! inclusive as CreateExportTask reads them; an empty range, or one that ends before the
//! group was created (CreateExportTask refuses it), exports nothing.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::export::key::destination_prefix;

/// Which log groups the live subscription covers (template.yaml's setup 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// `listed-log-groups`: only `listed`; `whole-account`: every group but `excluded`.
    pub whole_account: bool,
    /// The subscribed groups, with the listed scope.
    pub listed: Vec<String>,
    /// Groups left out, with the whole-account scope (the stack's own among them).
    pub excluded: Vec<String>,
    /// Only groups whose name starts with this (the execution's `Prefix`).
    pub prefix: Option<String>,
}

/// Why a group is not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The live subscription does not cover it (not listed).
    NotCovered,
    /// Its name does not start with the execution's prefix.
    OutsidePrefix,
    /// Left out of the whole-account subscription (ExcludedLogGroupNames, or the
    /// stack's own log groups).
    Excluded,
    /// Everything before its live start is exported already, or arrived live.
    NothingNew,
}

impl SkipReason {
    /// The reason as the state machine's output spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotCovered => "not-covered",
            Self::OutsidePrefix => "outside-prefix",
            Self::Excluded => "excluded",
            Self::NothingNew => "nothing-new",
        }
    }
}

/// What the backfill does with one log group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave it.
    Skip(SkipReason),
    /// Export `[from, to]`, epoch milliseconds, both inclusive.
    Export {
        /// First millisecond exported.
        from: i64,
        /// Last millisecond exported.
        to: i64,
    },
}

/// One log group, with what is known of it when it is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    /// The log group's name.
    pub name: String,
    /// When it was created, epoch ms.
    pub creation_time: i64,
    /// The inclusive end of the last range exported, when any.
    pub exported_to: Option<i64>,
    /// When its live subscription started, when it has one.
    pub live_start: Option<i64>,
}

impl Selection {
    /// Whether the live subscription covers `name`, or why not.
    pub fn covers(&self, name: &str) -> Result<(), SkipReason> {
        if let Some(prefix) = &self.prefix {
            if !name.starts_with(prefix.as_str()) {
                return Err(SkipReason::OutsidePrefix);
            }
        }
        if self.whole_account {
            if self.excluded.iter().any(|excluded| excluded == name) {
                return Err(SkipReason::Excluded);
            }
        } else if !self.listed.iter().any(|listed| listed == name) {
            return Err(SkipReason::NotCovered);
        }
        Ok(())
    }
}

/// What the backfill does with `group`: the range described in the module documentation.
pub fn plan(group: &GroupState, selection: &Selection, since: Option<i64>, until: i64) -> Decision {
    if let Err(reason) = selection.covers(&group.name) {
        return Decision::Skip(reason);
    }
    // Every event ingested after the live start reached the live layout; an event is
    // ingested after its group's creation, so a group subscribed from its creation on
    // has no history.
    if group
        .live_start
        .is_some_and(|live| live <= group.creation_time)
    {
        return Decision::Skip(SkipReason::NothingNew);
    }
    let end = group.live_start.map_or(until, |live| live.min(until));
    let from = since
        .unwrap_or(0)
        .max(group.exported_to.map_or(0, |done| done.saturating_add(1)))
        .max(0);
    let to = end.saturating_sub(1);
    if from > to || to < group.creation_time {
        return Decision::Skip(SkipReason::NothingNew);
    }
    Decision::Export { from, to }
}

/// An event of the backfill's shapes that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the {shape} event cannot be read")]
pub struct BackfillEventError {
    /// `backfillPlan` or `backfillTally`.
    shape: &'static str,
    /// What serde said.
    #[source]
    source: serde_json::Error,
}

/// The state machine's request for one group's plan: what its earlier states gathered,
/// in the members' spelling of Step Functions' SDK integrations (PascalCase results,
/// DynamoDB's attribute values).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanRequest {
    /// One entry of DescribeLogGroups' `LogGroups`.
    log_group: LogGroupEntry,
    /// `listed-log-groups` or `whole-account`.
    scope: String,
    /// Comma-separated names (template parameters are substituted as text).
    #[serde(default)]
    listed: String,
    #[serde(default)]
    excluded: String,
    #[serde(default)]
    prefix: Option<String>,
    /// The stack's subscription filter name: only that filter is the live subscription.
    filter_name: String,
    /// DescribeSubscriptionFilters' `SubscriptionFilters` for the group.
    #[serde(default)]
    subscription_filters: Vec<FilterEntry>,
    /// DescribeAccountPolicies' `AccountPolicies` (whole-account scope), else empty.
    #[serde(default)]
    account_policies: Vec<PolicyEntry>,
    /// DynamoDB GetItem's answer for the group: `{"Item": {...}}`, or `{}` when none.
    #[serde(default)]
    progress: Value,
    #[serde(default)]
    since: Option<i64>,
    until: i64,
    account: String,
    bucket: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LogGroupEntry {
    log_group_name: String,
    #[serde(default)]
    creation_time: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterEntry {
    filter_name: String,
    creation_time: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyEntry {
    last_updated_time: i64,
}

fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `exportedTo` of a GetItem answer: `{"Item": {"exportedTo": {"N": "123"}}}`.
fn exported_to(progress: &Value) -> Option<i64> {
    progress
        .pointer("/Item/exportedTo/N")
        .and_then(Value::as_str)
        .and_then(|number| number.parse().ok())
}

impl PlanRequest {
    fn group(&self) -> GroupState {
        let filter_start = self
            .subscription_filters
            .iter()
            .filter(|filter| filter.filter_name == self.filter_name)
            .map(|filter| filter.creation_time)
            .min();
        let policy_start = self
            .account_policies
            .iter()
            .filter(|_| self.scope == "whole-account")
            .map(|policy| policy.last_updated_time)
            .min();
        GroupState {
            name: self.log_group.log_group_name.clone(),
            creation_time: self.log_group.creation_time,
            exported_to: exported_to(&self.progress),
            live_start: filter_start.into_iter().chain(policy_start).min(),
        }
    }

    fn selection(&self) -> Selection {
        Selection {
            whole_account: self.scope == "whole-account",
            listed: comma_list(&self.listed),
            excluded: comma_list(&self.excluded),
            prefix: self.prefix.clone().filter(|prefix| !prefix.is_empty()),
        }
    }
}

/// The answer to a `backfillPlan` event: `{"action": "export", "from", "to", "bucket",
/// "destinationPrefix", ...}` or `{"action": "skip", "reason", ...}`.
fn answer_plan(export_prefix: &str, request: &PlanRequest) -> Value {
    let group = request.group();
    let decision = plan(&group, &request.selection(), request.since, request.until);
    let mut answer = json!({
        "logGroupName": group.name,
        "liveStart": group.live_start,
        "exportedTo": group.exported_to,
    });
    let fields = match decision {
        Decision::Skip(reason) => json!({"action": "skip", "reason": reason.name()}),
        Decision::Export { from, to } => json!({
            "action": "export",
            "from": from,
            "to": to,
            "bucket": request.bucket,
            "destinationPrefix": destination_prefix(export_prefix, &request.account, &group.name),
        }),
    };
    if let (Some(answer), Value::Object(fields)) = (answer.as_object_mut(), fields) {
        answer.extend(fields);
    }
    answer
}

/// One group's outcome, as the state machine records it at the end of its iteration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupOutcome {
    log_group_name: String,
    /// `exported`, `skipped` or `failed`.
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The tally so far and one page's outcomes.
#[derive(Debug, Deserialize)]
struct TallyRequest {
    #[serde(default)]
    tally: Option<Value>,
    #[serde(default)]
    outcomes: Vec<GroupOutcome>,
}

/// `{"exported", "skipped", "failed", "failures": [{"logGroupName", "reason"}]}`: the
/// tally of `request.tally` (none on the first page) and the page's outcomes.
fn answer_tally(request: TallyRequest) -> Value {
    let count = |name: &str| {
        request
            .tally
            .as_ref()
            .and_then(|tally| tally.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let (mut exported, mut skipped, mut failed) =
        (count("exported"), count("skipped"), count("failed"));
    let mut failures: Vec<Value> = request
        .tally
        .as_ref()
        .and_then(|tally| tally.get("failures"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for outcome in &request.outcomes {
        match outcome.outcome.as_str() {
            "exported" => exported += 1,
            "skipped" => skipped += 1,
            _ => {
                failed += 1;
                failures.push(json!({
                    "logGroupName": outcome.log_group_name,
                    "reason": outcome.reason.clone().unwrap_or_else(|| outcome.outcome.clone()),
                }));
            }
        }
    }
    json!({"exported": exported, "skipped": skipped, "failed": failed, "failures": failures})
}

/// The answer to a backfill event (`{"backfillPlan": {...}}` or `{"backfillTally":
/// {...}}`), or `None` when `event` is neither shape (an S3 event, say).
pub fn answer(export_prefix: &str, event: &Value) -> Option<Result<Value, BackfillEventError>> {
    if let Some(request) = event.get("backfillPlan") {
        return Some(
            PlanRequest::deserialize(request)
                .map(|request| answer_plan(export_prefix, &request))
                .map_err(|source| BackfillEventError {
                    shape: "backfillPlan",
                    source,
                }),
        );
    }
    let request = event.get("backfillTally")?;
    Some(
        TallyRequest::deserialize(request)
            .map(answer_tally)
            .map_err(|source| BackfillEventError {
                shape: "backfillTally",
                source,
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    fn whole_account(excluded: &[&str]) -> Selection {
        Selection {
            whole_account: true,
            listed: Vec::new(),
            excluded: excluded.iter().map(|name| (*name).to_owned()).collect(),
            prefix: None,
        }
    }

    fn group(name: &str, created: i64, exported_to: Option<i64>, live: Option<i64>) -> GroupState {
        GroupState {
            name: name.to_owned(),
            creation_time: created,
            exported_to,
            live_start: live,
        }
    }

    #[test]
    fn plans_each_case() {
        let own = "/aws/lambda/central-logs-processor";
        let all = whole_account(&[own, "/noisy"]);
        let listed = Selection {
            whole_account: false,
            listed: vec!["/aws/lambda/app".into(), "/ecs/web#blue".into()],
            ..whole_account(&[])
        };
        let prefixed = Selection {
            prefix: Some("/aws/".into()),
            ..whole_account(&[])
        };
        let until = T0 + 10 * DAY;
        let export = |from, to| Decision::Export { from, to };
        let skip = Decision::Skip;
        #[rustfmt::skip]
        let cases = [
            // (what, group, selection, since, expected)
            ("no live subscription: up to until", group("/a/b", T0, None, None), &all, None, export(0, until - 1)),
            ("since", group("/a/b", T0, None, None), &all, Some(T0 + DAY), export(T0 + DAY, until - 1)),
            ("live start splits", group("/ecs/web#blue", T0, None, Some(T0 + 3 * DAY)), &listed, Some(T0), export(T0, T0 + 3 * DAY - 1)),
            ("live start after until", group("/a", T0, None, Some(until + DAY)), &all, None, export(0, until - 1)),
            ("non-ASCII name", group("/app/é漢字", T0, None, None), &all, None, export(0, until - 1)),
            ("created after since: events may predate it", group("/late", T0 + 5 * DAY, None, None), &all, Some(T0), export(T0, until - 1)),
            ("progress continues", group("/a", T0, Some(T0 + 2 * DAY), None), &all, None, export(T0 + 2 * DAY + 1, until - 1)),
            ("since after progress", group("/a", T0, Some(T0), None), &all, Some(T0 + DAY), export(T0 + DAY, until - 1)),
            ("progress up to the live start", group("/a", T0, Some(T0 + DAY - 1), Some(T0 + DAY)), &all, None, skip(SkipReason::NothingNew)),
            ("progress past the live start", group("/a", T0, Some(T0 + 2 * DAY), Some(T0 + DAY)), &all, None, skip(SkipReason::NothingNew)),
            ("from >= to", group("/a", T0, None, Some(T0 + DAY)), &all, Some(T0 + DAY), skip(SkipReason::NothingNew)),
            ("from = to is one millisecond", group("/a", T0, None, Some(T0 + DAY)), &all, Some(T0 + DAY - 1), export(T0 + DAY - 1, T0 + DAY - 1)),
            ("subscribed from creation", group("/a", T0, None, Some(T0)), &all, None, skip(SkipReason::NothingNew)),
            ("created after until", group("/new", until + 1, None, None), &all, None, skip(SkipReason::NothingNew)),
            ("the stack's own group", group(own, T0, None, None), &all, None, skip(SkipReason::Excluded)),
            ("excluded", group("/noisy", T0, None, None), &all, None, skip(SkipReason::Excluded)),
            ("not listed", group("/aws/lambda/other", T0, None, None), &listed, None, skip(SkipReason::NotCovered)),
            ("listed with '#'", group("/ecs/web#blue", T0, None, None), &listed, None, export(0, until - 1)),
            ("outside the prefix", group("/ecs/web", T0, None, None), &prefixed, None, skip(SkipReason::OutsidePrefix)),
            ("inside the prefix", group("/aws/x", T0, None, None), &prefixed, None, export(0, until - 1)),
        ];
        for (what, group, selection, since, expected) in cases {
            assert_eq!(plan(&group, selection, since, until), expected, "{what}");
        }
    }

    fn plan_event(name: &str, scope: &str, filters: Value, progress: Value, since: Value) -> Value {
        json!({"backfillPlan": {
            "logGroup": {"LogGroupName": name, "CreationTime": T0, "Arn": "arn:aws:logs:x"},
            "scope": scope, "listed": "", "excluded": "/own,/noisy", "prefix": "",
            "filterName": "to-central-logs", "subscriptionFilters": filters,
            "accountPolicies": [{"PolicyName": "to-central-logs", "LastUpdatedTime": T0 + 5 * DAY}],
            "progress": progress, "since": since, "until": T0 + 10 * DAY,
            "account": "123456789012", "bucket": "central"
        }})
    }

    #[test]
    fn answers_the_state_machines_shapes() {
        let filters = json!([
            {"FilterName": "someone-else", "CreationTime": T0 + DAY},
            {"FilterName": "to-central-logs", "CreationTime": T0 + 3 * DAY}
        ]);
        let event = plan_event(
            "/ecs/web#blue",
            "whole-account",
            filters,
            json!({}),
            json!(T0),
        );
        let planned = answer("exports", &event).unwrap().unwrap();
        assert_eq!(
            planned,
            json!({"logGroupName": "/ecs/web#blue", "liveStart": T0 + 3 * DAY, "exportedTo": null,
                   "action": "export", "from": T0, "to": T0 + 3 * DAY - 1, "bucket": "central",
                   "destinationPrefix": "exports/123456789012/!ecs!web*23blue"})
        );
        // The account policy is the live start when no filter of ours is there; progress
        // as DynamoDB answers it.
        let progress =
            json!({"Item": {"logGroup": {"S": "/a"}, "exportedTo": {"N": (T0 + DAY).to_string()}}});
        let event = plan_event("/a", "whole-account", json!([]), progress, Value::Null);
        let planned = answer("exports", &event).unwrap().unwrap();
        assert_eq!(
            (planned["from"].as_i64(), planned["to"].as_i64()),
            (Some(T0 + DAY + 1), Some(T0 + 5 * DAY - 1))
        );
        // Excluded, and (with the listed scope) not listed.
        let event = plan_event("/noisy", "whole-account", json!([]), json!({}), Value::Null);
        assert_eq!(
            answer("exports", &event).unwrap().unwrap()["reason"],
            "excluded"
        );
        let event = plan_event("/a", "listed-log-groups", json!([]), json!({}), Value::Null);
        assert_eq!(
            answer("exports", &event).unwrap().unwrap()["reason"],
            "not-covered"
        );
    }

    #[test]
    fn tallies_pages() {
        let first = answer(
            "exports",
            &json!({"backfillTally": {"tally": null, "outcomes": [
                {"logGroupName": "/a", "outcome": "exported", "from": 0, "to": 1},
                {"logGroupName": "/b", "outcome": "skipped", "reason": "excluded"},
                {"logGroupName": "/c", "outcome": "failed", "reason": "FAILED: access denied"}
            ]}}),
        )
        .unwrap()
        .unwrap();
        let second = answer(
            "exports",
            &json!({"backfillTally": {"tally": first, "outcomes": [
                {"logGroupName": "/d", "outcome": "exported"}
            ]}}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            second,
            json!({"exported": 2, "skipped": 1, "failed": 1,
                   "failures": [{"logGroupName": "/c", "reason": "FAILED: access denied"}]})
        );
    }

    #[test]
    fn leaves_other_events_and_rejects_broken_ones() {
        assert!(answer("exports", &json!({"Records": []})).is_none());
        assert!(answer("exports", &json!({"backfillPlan": {"scope": "x"}}))
            .unwrap()
            .is_err());
        assert!(
            answer("exports", &json!({"backfillTally": {"outcomes": 3}}))
                .unwrap()
                .is_err()
        );
    }
}
