//! Enough of CloudFormation's template language to read a template's resources the way a stack
//! would create them: parameters with their defaults, conditions, `Ref`, `Fn::Sub`,
//! `Fn::GetAtt`, `Fn::If`, `Fn::Join` and `AWS::NoValue`. Tests use it for the resource types
//! moto's CloudFormation skips (scaling, alarms, metric filters), which they then create
//! through those services' own APIs.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A template with the values of one stack.
pub struct Template {
    doc: Value,
    values: BTreeMap<String, String>,
    conditions: BTreeMap<String, bool>,
}

impl Template {
    /// `doc` with these parameter values (the others take their defaults) and the physical ids
    /// of resources already created (what `Ref` of them gives).
    pub fn new(doc: Value, parameters: &[(&str, &str)], physical: &[(&str, &str)]) -> Self {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for (name, declared) in doc["Parameters"].as_object().into_iter().flatten() {
            if let Some(default) = declared.get("Default") {
                values.insert(name.clone(), scalar(default));
            }
        }
        for (k, v) in parameters.iter().chain(physical) {
            values.insert(k.to_string(), v.to_string());
        }
        values.insert("AWS::Region".into(), "us-east-1".into());
        values.insert("AWS::AccountId".into(), "123456789012".into());
        values.insert("AWS::Partition".into(), "aws".into());
        let mut template = Template { doc, values, conditions: BTreeMap::new() };
        let names: Vec<String> =
            template.doc["Conditions"].as_object().map(|c| c.keys().cloned().collect()).unwrap_or_default();
        for name in names {
            let holds = template.condition(&template.doc["Conditions"][&name].clone());
            template.conditions.insert(name, holds);
        }
        template
    }

    /// Whether the named condition holds.
    pub fn holds(&self, condition: &str) -> bool {
        self.conditions[condition]
    }

    /// The resolved properties of the resource named `name`, or none when its condition does
    /// not hold.
    pub fn properties(&self, name: &str) -> Option<Value> {
        let resource = &self.doc["Resources"][name];
        assert!(resource.is_object(), "no resource {name}");
        if let Some(condition) = resource["Condition"].as_str()
            && !self.holds(condition)
        {
            return None;
        }
        Some(self.resolve(&resource["Properties"]))
    }

    fn condition(&self, c: &Value) -> bool {
        let object = c.as_object().expect("a condition is an object");
        let (function, args) = object.iter().next().expect("a condition has a function");
        match function.as_str() {
            "Condition" => {
                let name = args.as_str().unwrap();
                self.conditions.get(name).copied().unwrap_or_else(|| self.condition(&self.doc["Conditions"][name]))
            }
            "Fn::Equals" => scalar(&self.resolve(&args[0])) == scalar(&self.resolve(&args[1])),
            "Fn::Not" => !self.condition(&args[0]),
            "Fn::And" => args.as_array().unwrap().iter().all(|a| self.condition(a)),
            "Fn::Or" => args.as_array().unwrap().iter().any(|a| self.condition(a)),
            other => panic!("condition function {other} is not supported"),
        }
    }

    /// `value` with every intrinsic function applied.
    pub fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.resolve(v)).filter(|v| !is_no_value(v)).collect())
            }
            Value::Object(object) if object.len() == 1 => {
                let (key, args) = object.iter().next().unwrap();
                match key.as_str() {
                    "Ref" => self.reference(args.as_str().unwrap()),
                    "Fn::Sub" => Value::String(self.substitute(args)),
                    "Fn::GetAtt" => {
                        let path = args.as_array().map(|a| format!("{}.{}", scalar(&a[0]), scalar(&a[1])));
                        let path = path.unwrap_or_else(|| scalar(args));
                        Value::String(self.values.get(&path).cloned().unwrap_or_else(|| panic!("no value for {path}")))
                    }
                    "Fn::If" => {
                        let branch = if self.holds(args[0].as_str().unwrap()) { &args[1] } else { &args[2] };
                        self.resolve(branch)
                    }
                    "Fn::Join" => {
                        let parts = self.resolve(&args[1]);
                        let parts: Vec<String> = parts.as_array().unwrap().iter().map(scalar).collect();
                        Value::String(parts.join(args[0].as_str().unwrap()))
                    }
                    _ => Value::Object(self.resolve_map(object)),
                }
            }
            Value::Object(object) => Value::Object(self.resolve_map(object)),
            other => other.clone(),
        }
    }

    fn resolve_map(&self, object: &Map<String, Value>) -> Map<String, Value> {
        object.iter().map(|(k, v)| (k.clone(), self.resolve(v))).filter(|(_, v)| !is_no_value(v)).collect()
    }

    fn reference(&self, name: &str) -> Value {
        if name == "AWS::NoValue" {
            return Value::String(NO_VALUE.into());
        }
        let value = self.values.get(name).cloned().unwrap_or_else(|| panic!("no value for Ref {name}"));
        let declared = &self.doc["Parameters"][name]["Type"];
        if declared.as_str().is_some_and(|t| t.starts_with("List<") || t == "CommaDelimitedList") {
            return Value::Array(value.split(',').map(|v| Value::String(v.trim().into())).collect());
        }
        Value::String(value)
    }

    fn substitute(&self, args: &Value) -> String {
        let (text, vars) = match args {
            Value::String(s) => (s.clone(), Map::new()),
            Value::Array(a) => (a[0].as_str().unwrap().to_string(), a[1].as_object().cloned().unwrap_or_default()),
            _ => panic!("Fn::Sub of {args}"),
        };
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed ${") + start;
            let name = &rest[start + 2..end];
            let value = match vars.get(name) {
                Some(v) => scalar(&self.resolve(v)),
                None => self.values.get(name).cloned().unwrap_or_else(|| panic!("no value for ${{{name}}}")),
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

const NO_VALUE: &str = "\u{0}AWS::NoValue";

fn is_no_value(v: &Value) -> bool {
    v.as_str() == Some(NO_VALUE)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn intrinsics_resolve_as_a_stack_would() {
        let doc = json!({
            "Parameters": {"Realm": {"Type": "String"}, "Target": {"Type": "Number", "Default": 0}, "Nets": {"Type": "List<AWS::EC2::Subnet::Id>"}},
            "Conditions": {"Scaling": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Target"}, 0]}]}, "Both": {"Fn::And": [{"Condition": "Scaling"}, {"Fn::Equals": ["a", "a"]}]}},
            "Resources": {
                "Off": {"Type": "X", "Condition": "Scaling", "Properties": {}},
                "On": {"Type": "X", "Properties": {
                    "Name": {"Fn::Sub": "lava-${Realm}-${AWS::Region}"},
                    "Group": {"Ref": "Group"},
                    "Nets": {"Fn::Join": [",", {"Ref": "Nets"}]},
                    "Key": {"Fn::If": ["Both", "yes", {"Ref": "AWS::NoValue"}]},
                    "List": ["a", {"Fn::If": ["Scaling", "b", {"Ref": "AWS::NoValue"}]}],
                    "Sub": {"Fn::Sub": ["${x}!", {"x": {"Ref": "Realm"}}]}
                }}
            }
        });
        let t = Template::new(doc, &[("Realm", "prod"), ("Nets", "s-1,s-2")], &[("Group", "/lava/prod")]);
        assert!(!t.holds("Scaling") && !t.holds("Both"));
        assert_eq!(t.properties("Off"), None);
        assert_eq!(
            t.properties("On").unwrap(),
            json!({"Name": "lava-prod-us-east-1", "Group": "/lava/prod", "Nets": "s-1,s-2", "List": ["a"], "Sub": "prod!"})
        );
    }
}
