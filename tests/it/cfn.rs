//! CloudFormation templates as the tests read them, and the one evaluator of their
//! intrinsic functions.
//!
//! Templates are read with `serde_norway` (a maintained `serde_yaml` fork), whose
//! `Value::Tagged` keeps the short forms (`!Sub`, `!If`, `!Join`…); the long forms
//! (`Ref: x`, `Fn::Sub: x`, `Condition: x` inside a condition) are read alike.
//! [`Resolver`] evaluates a node as CloudFormation would for given parameter values (the
//! template's defaults unless the test gives others): `Ref`, `GetAtt`, `Sub` with its
//! variable map and its `${!literal}` escape, `Join`, `Split`, `Select`, and `If` on the
//! template's own `Conditions` (`Equals`, `Not`, `And`, `Or`, `Condition`).
//! `Ref AWS::NoValue` removes the list item or the mapping key it stands for. What only
//! the deployed stack knows (an attribute, an SQS queue's URL) is a placeholder unless the
//! test gives it a value.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_norway::{Mapping, Value};

/// A YAML file of the project (`template.yaml`, `sender.yaml`).
pub fn load(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"))
}

/// The node at `path` (mapping keys), or a panic that names the path.
pub fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |node, key| {
        node.get(*key)
            .unwrap_or_else(|| panic!("template has no {key} in {}", path.join(".")))
    })
}

pub fn as_str(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

/// A scalar as CloudFormation would pass it on: numbers and booleans become text.
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

/// The function name (without `!` or `Fn::`) and argument of an intrinsic, in either
/// form. `Condition` is a function only inside conditions: elsewhere a mapping of that
/// one key is data (a policy statement's, say).
fn intrinsic(value: &Value, in_condition: bool) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(mapping) if mapping.len() == 1 => {
            let (key, argument) = mapping.iter().next()?;
            let name = match key.as_str()? {
                "Ref" => "Ref",
                "Condition" if in_condition => "Condition",
                other => other.strip_prefix("Fn::")?,
            };
            Some((name.to_owned(), argument))
        }
        _ => None,
    }
}

/// Evaluates template nodes for one set of parameter values.
pub struct Resolver<'a> {
    template: &'a Value,
    /// Values given by the test: parameters, pseudo parameters, a resource's `Ref` by its
    /// logical id, an attribute by `Resource.Attribute`.
    values: BTreeMap<String, String>,
    /// The template's parameters read so far, given or defaulted.
    parameters_read: RefCell<BTreeSet<String>>,
}

impl<'a> Resolver<'a> {
    pub fn new(template: &'a Value) -> Self {
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
        Self {
            template,
            values,
            parameters_read: RefCell::default(),
        }
    }

    /// Gives `name` a value; a list parameter takes its items comma-separated.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn template(&self) -> &'a Value {
        self.template
    }

    /// The template's parameters that the evaluations so far depended on.
    pub fn parameters_read(&self) -> BTreeSet<String> {
        self.parameters_read.borrow().clone()
    }

    /// `value` with every intrinsic evaluated and scalars as text; `None` for
    /// `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Value> {
        if let Some((function, argument)) = intrinsic(value, false) {
            return self.function(&function, argument);
        }
        Some(match value {
            Value::Null => Value::Null,
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                Value::String(scalar_text(value))
            }
            Value::Sequence(items) => {
                Value::Sequence(items.iter().filter_map(|item| self.resolve(item)).collect())
            }
            Value::Mapping(mapping) => Value::Mapping(
                mapping
                    .iter()
                    .filter_map(|(key, item)| Some((key.clone(), self.resolve(item)?)))
                    .collect::<Mapping>(),
            ),
            Value::Tagged(_) => unreachable!("tagged values are intrinsics"),
        })
    }

    /// `value` evaluated to a string.
    pub fn text(&self, value: &Value) -> String {
        match self.resolve(value) {
            Some(Value::String(text)) => text,
            other => panic!("expected a string from {value:?}, found {other:?}"),
        }
    }

    /// `value` evaluated to a list of strings.
    pub fn list(&self, value: &Value) -> Vec<String> {
        match self.resolve(value) {
            Some(Value::Sequence(items)) => {
                items.iter().map(|item| as_str(item).to_owned()).collect()
            }
            other => panic!("expected a list from {value:?}, found {other:?}"),
        }
    }

    /// What `!Ref name` gives, as a string.
    pub fn reference_text(&self, name: &str) -> String {
        match self.reference(name) {
            Some(Value::String(text)) => text,
            other => panic!("expected a string from Ref {name}, found {other:?}"),
        }
    }

    /// Whether the template's condition `name` holds.
    pub fn condition(&self, name: &str) -> bool {
        self.holds(get(self.template, &["Conditions", name]))
    }

    fn holds(&self, value: &Value) -> bool {
        let (function, arguments) =
            intrinsic(value, true).unwrap_or_else(|| panic!("not a condition: {value:?}"));
        let each = || {
            arguments
                .as_sequence()
                .unwrap_or_else(|| panic!("Fn::{function} takes a list: {arguments:?}"))
                .iter()
        };
        match function.as_str() {
            "Equals" => self.resolve(&arguments[0]) == self.resolve(&arguments[1]),
            "Not" => !self.holds(&arguments[0]),
            "And" => each().all(|argument| self.holds(argument)),
            "Or" => each().any(|argument| self.holds(argument)),
            "Condition" => self.condition(as_str(arguments)),
            other => panic!("condition function {other} is not evaluated here"),
        }
    }

    fn function(&self, function: &str, arguments: &Value) -> Option<Value> {
        let text = |text: String| Some(Value::String(text));
        match function {
            "Ref" => self.reference(as_str(arguments)),
            "GetAtt" => {
                let target = match arguments {
                    Value::Sequence(parts) => {
                        format!("{}.{}", as_str(&parts[0]), as_str(&parts[1]))
                    }
                    single => as_str(single).to_owned(),
                };
                text(self.attribute(&target))
            }
            "Sub" => text(match arguments {
                Value::Sequence(_) => self.substitute(as_str(&arguments[0]), Some(&arguments[1])),
                single => self.substitute(as_str(single), None),
            }),
            "Join" => text(self.list(&arguments[1]).join(as_str(&arguments[0]))),
            "Split" => {
                let whole = self.text(&arguments[1]);
                let parts = whole.split(as_str(&arguments[0]));
                Some(Value::Sequence(
                    parts.map(|part| Value::String(part.to_owned())).collect(),
                ))
            }
            "Select" => {
                let index: usize = self
                    .text(&arguments[0])
                    .parse()
                    .unwrap_or_else(|error| panic!("Fn::Select index: {error}"));
                let Some(Value::Sequence(items)) = self.resolve(&arguments[1]) else {
                    panic!("Fn::Select takes a list: {arguments:?}")
                };
                let item = items.get(index).unwrap_or_else(|| {
                    panic!("Fn::Select index {index} past the list's end: {items:?}")
                });
                Some(item.clone())
            }
            "If" => {
                let chosen = if self.condition(as_str(&arguments[0])) {
                    &arguments[1]
                } else {
                    &arguments[2]
                };
                self.resolve(chosen)
            }
            other => panic!("Fn::{other} is not evaluated here: {arguments:?}"),
        }
    }

    fn reference(&self, name: &str) -> Option<Value> {
        if name == "AWS::NoValue" {
            return None;
        }
        let parameter = self.template.get("Parameters").and_then(|p| p.get(name));
        if parameter.is_some() {
            self.parameters_read.borrow_mut().insert(name.to_owned());
        }
        if let Some(value) = self.values.get(name) {
            return Some(parameter_value(parameter, value));
        }
        if let Some(parameter) = parameter {
            let default = parameter
                .get("Default")
                .map(scalar_text)
                .unwrap_or_else(|| panic!("parameter {name} has no default: give it a value"));
            return Some(parameter_value(Some(parameter), &default));
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
            "AWS::SQS::Queue" => return Some(Value::String(format!("https://sqs/{name}"))),
            other => panic!("Ref {name}: no name property known for {other}"),
        };
        self.resolve(get(resource, &["Properties", name_property]))
    }

    fn attribute(&self, target: &str) -> String {
        self.values
            .get(target)
            .cloned()
            .unwrap_or_else(|| format!("<{target}>"))
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
                out.push_str(&self.text(value));
            } else if name.contains('.') && !name.starts_with("AWS::") {
                out.push_str(&self.attribute(name));
            } else {
                out.push_str(&self.reference_text(name));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// A parameter's value as `Ref` gives it: a list for the list types.
fn parameter_value(parameter: Option<&Value>, value: &str) -> Value {
    let kind = parameter
        .and_then(|p| p.get("Type"))
        .and_then(Value::as_str)
        .unwrap_or("String");
    if kind == "CommaDelimitedList" || kind.starts_with("List<") {
        Value::Sequence(
            value
                .split(',')
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        )
    } else {
        Value::String(value.to_owned())
    }
}

/// The evaluator itself, on a template small enough to read at a glance.
#[test]
fn short_and_long_forms_evaluate_alike() {
    let template: Value = serde_norway::from_str(
        r#"
Parameters:
  Layout: { Type: String, Default: fine }
  Accounts: { Type: CommaDelimitedList, Default: "1,2" }
Conditions:
  Fine: !Equals [!Ref Layout, fine]
  FineAndTwo: { "Fn::And": [{ Condition: Fine }, { "Fn::Not": [{ "Fn::Equals": [{ Ref: Accounts }, ["1"]] }] }] }
Short:
  path: !Join ["/", [!Sub "${AWS::Region}-${!kept}", !If [Fine, !Select [1, !Ref Accounts], !Ref AWS::NoValue], !GetAtt Bucket.Arn]]
  gone: !If [FineAndTwo, !Ref AWS::NoValue, kept]
  list: [a, !Ref AWS::NoValue, !Sub ["${x}-${Layout}", { x: !Join ["+", !Split [",", "p,q"]] }]]
  data: { Condition: { StringEquals: { k: 1 } } }
Long:
  path: { "Fn::Join": ["/", [{ "Fn::Sub": "${AWS::Region}-${!kept}" }, { "Fn::If": [Fine, { "Fn::Select": [1, { Ref: Accounts }] }, { Ref: AWS::NoValue }] }, { "Fn::GetAtt": [Bucket, Arn] }]] }
  gone: { "Fn::If": [FineAndTwo, { Ref: AWS::NoValue }, kept] }
  list: [a, { Ref: AWS::NoValue }, { "Fn::Sub": ["${x}-${Layout}", { x: { "Fn::Join": ["+", { "Fn::Split": [",", "p,q"] }] } }] }]
  data: { Condition: { StringEquals: { k: 1 } } }
"#,
    )
    .unwrap();
    let resolver = Resolver::new(&template).with("Bucket.Arn", "arn:bucket");
    let expected: Value = serde_norway::from_str(
        r#"{ path: "eu-west-1-${kept}/2/arn:bucket", list: [a, "p+q-fine"], data: { Condition: { StringEquals: { k: "1" } } } }"#,
    )
    .unwrap();
    for form in ["Short", "Long"] {
        // `data`: a mapping of the one key Condition is data outside conditions.
        let resolved = resolver.resolve(get(&template, &[form])).unwrap();
        assert_eq!(resolved, expected, "{form}");
    }
    assert_eq!(
        resolver.parameters_read(),
        BTreeSet::from(["Accounts".to_owned(), "Layout".to_owned()])
    );

    let coarse = Resolver::new(&template).with("Layout", "coarse");
    let resolved = coarse.resolve(get(&template, &["Short"])).unwrap();
    assert_eq!(as_str(&resolved["path"]), "eu-west-1-${kept}/<Bucket.Arn>");
    assert_eq!(as_str(&resolved["gone"]), "kept");
    assert!(!coarse.condition("FineAndTwo"));
}
