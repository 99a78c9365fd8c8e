//! The text form of CIB operations ([`CibOp`]) on the control socket: one JSON object
//! per operation, named by `"op"`, with exactly the fields the operation takes.
//!
//! | `op` | fields | [`CibOp`] |
//! |---|---|---|
//! | `replace` | `section` (`crm_config`, `nodes`, `resources`, `constraints`, `rsc_defaults`, `op_defaults`, `fencing-topology`, `status`), `xml` | `Replace` |
//! | `create` | `parent`, `xml` | `Create` |
//! | `modify` | `path`, `xml` | `Modify` |
//! | `delete` | `path` | `Delete` |
//! | `set-attribute` | `path`, `name`, `value` | `SetAttribute` |
//! | `delete-attribute` | `path`, `name` | `DeleteAttribute` |
//! | `put` | `parent`, `xml` | `Put` |
//! | `merge` | `path`, `attrs` (an object of strings) | `Merge` |
//! | `purge` | `path` | `Purge` |
//! | `batch` | `ops` (a list of operations) | `Batch` |
//!
//! Paths are patchset paths (`/cib/configuration/resources/primitive[@id='d']`); `xml`
//! is one element. Example:
//! `{"op":"put","parent":"/cib/configuration/resources","xml":"<primitive id='d' class='ocf' provider='pacemaker' type='Dummy'/>"}`.
//! Unknown fields are refused, so a misspelt one is not silently ignored.

use cib::xml::{Element, XmlNode};
use crmd::cib_manager::{CibOp, CibPath, Section, XmlAttr};
use serde_json::{Map, Value};
use thiserror::Error;

/// Deepest nesting of `batch` operations.
pub const BATCH_DEPTH_MAX: usize = 4;
/// Most operations in one request (nested ones included).
pub const OPS_MAX: usize = 1024;

/// Why an operation's text was refused; the message names the operation and field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpError {
    #[error("operation {index}: not a JSON object")]
    NotObject { index: String },
    #[error("operation {index}: missing \"op\"")]
    MissingOp { index: String },
    #[error("operation {index}: unknown op '{op}' (replace, create, modify, delete, set-attribute, delete-attribute, put, merge, purge, batch)")]
    UnknownOp { index: String, op: String },
    #[error("operation {index} ({op}): missing field \"{field}\"")]
    Missing {
        index: String,
        op: String,
        field: &'static str,
    },
    #[error("operation {index} ({op}): field \"{field}\" must be {want}")]
    Type {
        index: String,
        op: String,
        field: String,
        want: &'static str,
    },
    #[error("operation {index} ({op}): unexpected field \"{field}\"")]
    Unexpected { index: String, op: String, field: String },
    #[error("operation {index} ({op}): {why}")]
    Invalid { index: String, op: String, why: String },
    #[error("batches nested deeper than {BATCH_DEPTH_MAX}")]
    TooDeep,
    #[error("more than {OPS_MAX} operations")]
    TooMany,
    #[error("no operations")]
    Empty,
}

/// The section named `name` (as in the `cibadmin -o` option).
pub fn section(name: &str) -> Option<Section> {
    Some(match name {
        "crm_config" => Section::CrmConfig,
        "nodes" => Section::Nodes,
        "resources" => Section::Resources,
        "constraints" => Section::Constraints,
        "rsc_defaults" => Section::RscDefaults,
        "op_defaults" => Section::OpDefaults,
        "fencing-topology" => Section::FencingTopology,
        "status" => Section::Status,
        _ => return None,
    })
}

struct Fields<'a> {
    index: &'a str,
    op: &'a str,
    obj: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn check_only(&self, allowed: &[&str]) -> Result<(), OpError> {
        for k in self.obj.keys() {
            if k != "op" && !allowed.contains(&k.as_str()) {
                return Err(OpError::Unexpected {
                    index: self.index.into(),
                    op: self.op.into(),
                    field: k.clone(),
                });
            }
        }
        Ok(())
    }

    fn str(&self, field: &'static str) -> Result<&str, OpError> {
        match self.obj.get(field) {
            None => Err(OpError::Missing {
                index: self.index.into(),
                op: self.op.into(),
                field,
            }),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.type_err(field, "a string")),
        }
    }

    fn type_err(&self, field: &str, want: &'static str) -> OpError {
        OpError::Type {
            index: self.index.into(),
            op: self.op.into(),
            field: field.into(),
            want,
        }
    }

    fn invalid(&self, why: impl ToString) -> OpError {
        OpError::Invalid {
            index: self.index.into(),
            op: self.op.into(),
            why: why.to_string(),
        }
    }

    fn path(&self, field: &'static str) -> Result<CibPath, OpError> {
        CibPath::new(self.str(field)?).map_err(|e| self.invalid(e))
    }

    fn xml(&self) -> Result<Element, OpError> {
        let mut e = Element::parse(self.str("xml")?).map_err(|e| self.invalid(format!("xml: {e}")))?;
        strip_blanks(&mut e);
        Ok(e)
    }

    fn attr(&self) -> Result<XmlAttr, OpError> {
        XmlAttr::new(self.str("name")?).map_err(|e| self.invalid(e))
    }
}

/// Drops whitespace-only text (the indentation of a pretty-printed file), which the
/// CIB does not keep.
pub fn strip_blanks(e: &mut Element) {
    e.children
        .retain(|c| !matches!(c, XmlNode::Text(t) if t.trim().is_empty()));
    for c in e.elements_mut() {
        strip_blanks(c);
    }
}

/// Parses a list of operations (the `ops` of a `cib` request) into one [`CibOp::Batch`]
/// (or the single op when there is one).
pub fn parse_ops(list: &Value) -> Result<CibOp, OpError> {
    let mut count = 0;
    let Value::Array(items) = list else {
        return Err(OpError::NotObject { index: "list".into() });
    };
    if items.is_empty() {
        return Err(OpError::Empty);
    }
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        ops.push(parse_at(item, &(i + 1).to_string(), 0, &mut count)?);
    }
    Ok(if ops.len() == 1 {
        ops.pop().expect("one")
    } else {
        CibOp::Batch(ops)
    })
}

/// Parses one operation.
pub fn parse_op(v: &Value) -> Result<CibOp, OpError> {
    parse_at(v, "1", 0, &mut 0)
}

fn parse_at(v: &Value, index: &str, depth: usize, count: &mut usize) -> Result<CibOp, OpError> {
    *count += 1;
    if *count > OPS_MAX {
        return Err(OpError::TooMany);
    }
    let Value::Object(obj) = v else {
        return Err(OpError::NotObject { index: index.into() });
    };
    let op = match obj.get("op") {
        None => return Err(OpError::MissingOp { index: index.into() }),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(OpError::Type {
                index: index.into(),
                op: "?".into(),
                field: "op".into(),
                want: "a string",
            })
        }
    };
    let f = Fields { index, op, obj };
    Ok(match op {
        "replace" => {
            f.check_only(&["section", "xml"])?;
            let name = f.str("section")?;
            let section = section(name).ok_or_else(|| f.invalid(format!("unknown section '{name}'")))?;
            CibOp::Replace {
                section,
                content: f.xml()?,
            }
        }
        "create" => {
            f.check_only(&["parent", "xml"])?;
            CibOp::Create {
                parent: f.path("parent")?,
                element: f.xml()?,
            }
        }
        "modify" => {
            f.check_only(&["path", "xml"])?;
            CibOp::Modify {
                path: f.path("path")?,
                element: f.xml()?,
            }
        }
        "delete" => {
            f.check_only(&["path"])?;
            CibOp::Delete { path: f.path("path")? }
        }
        "set-attribute" => {
            f.check_only(&["path", "name", "value"])?;
            CibOp::SetAttribute {
                path: f.path("path")?,
                name: f.attr()?,
                value: f.str("value")?.to_string(),
            }
        }
        "delete-attribute" => {
            f.check_only(&["path", "name"])?;
            CibOp::DeleteAttribute {
                path: f.path("path")?,
                name: f.attr()?,
            }
        }
        "put" => {
            f.check_only(&["parent", "xml"])?;
            CibOp::Put {
                parent: f.path("parent")?,
                element: f.xml()?,
            }
        }
        "merge" => {
            f.check_only(&["path", "attrs"])?;
            let path = f.path("path")?;
            let attrs = match obj.get("attrs") {
                None => {
                    return Err(OpError::Missing {
                        index: index.into(),
                        op: op.into(),
                        field: "attrs",
                    })
                }
                Some(Value::Object(m)) => m,
                Some(_) => return Err(f.type_err("attrs", "an object of strings")),
            };
            let mut out = Vec::with_capacity(attrs.len());
            for (k, v) in attrs {
                let Value::String(v) = v else {
                    return Err(f.type_err(&format!("attrs.{k}"), "a string"));
                };
                out.push((XmlAttr::new(k.clone()).map_err(|e| f.invalid(e))?, v.clone()));
            }
            CibOp::Merge { path, attrs: out }
        }
        "purge" => {
            f.check_only(&["path"])?;
            CibOp::Purge { path: f.path("path")? }
        }
        "batch" => {
            f.check_only(&["ops"])?;
            if depth + 1 > BATCH_DEPTH_MAX {
                return Err(OpError::TooDeep);
            }
            let Some(Value::Array(items)) = obj.get("ops") else {
                return Err(f.type_err("ops", "a list of operations"));
            };
            let mut ops = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                ops.push(parse_at(item, &format!("{index}.{}", i + 1), depth + 1, count)?);
            }
            CibOp::Batch(ops)
        }
        other => {
            return Err(OpError::UnknownOp {
                index: index.into(),
                op: other.into(),
            })
        }
    })
}

/// The text form of `op` (what [`parse_op`] reads back).
pub fn to_json(op: &CibOp) -> Value {
    use serde_json::json;
    match op {
        CibOp::Replace { section, content } => {
            json!({"op": "replace", "section": section.name(), "xml": content.to_xml_string()})
        }
        CibOp::Create { parent, element } => {
            json!({"op": "create", "parent": parent.as_str(), "xml": element.to_xml_string()})
        }
        CibOp::Modify { path, element } => {
            json!({"op": "modify", "path": path.as_str(), "xml": element.to_xml_string()})
        }
        CibOp::Delete { path } => json!({"op": "delete", "path": path.as_str()}),
        CibOp::SetAttribute { path, name, value } => {
            json!({"op": "set-attribute", "path": path.as_str(), "name": name.as_str(), "value": value})
        }
        CibOp::DeleteAttribute { path, name } => {
            json!({"op": "delete-attribute", "path": path.as_str(), "name": name.as_str()})
        }
        CibOp::Put { parent, element } => {
            json!({"op": "put", "parent": parent.as_str(), "xml": element.to_xml_string()})
        }
        CibOp::Merge { path, attrs } => {
            let m: Map<String, Value> = attrs
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                .collect();
            json!({"op": "merge", "path": path.as_str(), "attrs": m})
        }
        CibOp::Purge { path } => json!({"op": "purge", "path": path.as_str()}),
        CibOp::Batch(ops) => json!({"op": "batch", "ops": ops.iter().map(to_json).collect::<Vec<_>>()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        parse_op(&v).unwrap_err().to_string()
    }

    #[test]
    fn every_op_round_trips() {
        let all = json!([
            {"op": "replace", "section": "resources", "xml": "<resources><primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></resources>"},
            {"op": "create", "parent": "/cib/configuration/constraints", "xml": "<rsc_location id=\"l\" rsc=\"d\" node=\"n1\" score=\"10\"/>"},
            {"op": "modify", "path": "/cib/configuration/resources/primitive[@id='d']", "xml": "<primitive id=\"d\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\"/>"},
            {"op": "delete", "path": "/cib/configuration/constraints/rsc_location[@id='l']"},
            {"op": "set-attribute", "path": "/cib/configuration/resources/primitive[@id='d']", "name": "description", "value": "x"},
            {"op": "delete-attribute", "path": "/cib/configuration/resources/primitive[@id='d']", "name": "description"},
            {"op": "put", "parent": "/cib/configuration/crm_config/cluster_property_set[@id='o']", "xml": "<nvpair id=\"o-s\" name=\"stonith-enabled\" value=\"true\"/>"},
            {"op": "merge", "path": "/cib/configuration/rsc_defaults/meta_attributes[@id='r']/nvpair[@id='r-s']", "attrs": {"name": "resource-stickiness", "value": "100"}},
            {"op": "purge", "path": "/cib/configuration/constraints/rsc_location[@id='l']"},
            {"op": "batch", "ops": [{"op": "purge", "path": "/cib/status"}]}
        ]);
        let CibOp::Batch(ops) = parse_ops(&all).unwrap() else {
            panic!("a batch")
        };
        assert_eq!(ops.len(), 10);
        for (op, text) in ops.iter().zip(all.as_array().unwrap()) {
            let back = to_json(op);
            assert_eq!(parse_op(&back).unwrap(), *op, "{text}");
        }
        assert!(matches!(
            &ops[0],
            CibOp::Replace {
                section: Section::Resources,
                ..
            }
        ));
        // One op is not wrapped in a batch.
        let one = parse_ops(&json!([{"op": "delete", "path": "/cib/configuration/nodes"}])).unwrap();
        assert!(matches!(one, CibOp::Delete { .. }));
    }

    #[test]
    fn bad_ops_are_refused_with_the_reason() {
        assert_eq!(err(json!("put")), "operation 1: not a JSON object");
        assert_eq!(err(json!({"path": "/cib"})), "operation 1: missing \"op\"");
        assert!(err(json!({"op": "frobnicate"})).contains("unknown op 'frobnicate'"));
        assert_eq!(
            err(json!({"op": "delete"})),
            "operation 1 (delete): missing field \"path\""
        );
        assert_eq!(
            err(json!({"op": "delete", "path": 3})),
            "operation 1 (delete): field \"path\" must be a string"
        );
        assert_eq!(
            err(json!({"op": "delete", "path": "/cib/x", "pth": "/cib"})),
            "operation 1 (delete): unexpected field \"pth\""
        );
        assert!(err(json!({"op": "delete", "path": "/etc/passwd"})).contains("must start with /cib"));
        assert!(err(json!({"op": "delete", "path": "/cib/a[@id=x]"})).contains("selector"));
        assert!(err(json!({"op": "put", "parent": "/cib/configuration", "xml": "<a"})).contains("xml:"));
        assert!(err(json!({"op": "replace", "section": "everything", "xml": "<a/>"})).contains("unknown section"));
        assert!(
            err(json!({"op": "set-attribute", "path": "/cib", "name": "epoch", "value": "9"}))
                .contains("invalid attribute name 'epoch'")
        );
        assert!(err(json!({"op": "merge", "path": "/cib/x", "attrs": {"a": 1}})).contains("attrs.a"));
        assert!(err(json!({"op": "merge", "path": "/cib/x", "attrs": []})).contains("an object of strings"));
        assert!(err(json!({"op": "batch", "ops": {}})).contains("a list of operations"));
        assert_eq!(
            parse_ops(&json!([{"op": "purge", "path": "/cib/x"}, {"op": "purge"}]))
                .unwrap_err()
                .to_string(),
            "operation 2 (purge): missing field \"path\""
        );
        assert_eq!(parse_ops(&json!([])).unwrap_err(), OpError::Empty);
        assert!(matches!(parse_ops(&json!({})), Err(OpError::NotObject { .. })));
        let mut deep = json!({"op": "purge", "path": "/cib/x"});
        for _ in 0..=BATCH_DEPTH_MAX {
            deep = json!({"op": "batch", "ops": [deep]});
        }
        assert_eq!(parse_op(&deep).unwrap_err(), OpError::TooDeep);
        let many: Vec<Value> = (0..=OPS_MAX)
            .map(|_| json!({"op": "purge", "path": "/cib/x"}))
            .collect();
        assert_eq!(parse_ops(&Value::Array(many)).unwrap_err(), OpError::TooMany);
    }
}
