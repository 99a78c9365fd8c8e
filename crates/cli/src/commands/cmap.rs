//! `ferrosync cmap`: read and change the configuration and runtime map, as
//! `corosync-cmapctl` does (`key (type) = value` lines).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use client::cmap::{Change, Cmap, Map, TrackKind, Value};
use client::DispatchFlags;
use serde_json::json;

use crate::daemon::{open, print_json, value_json, DaemonArgs};

#[derive(Args, Debug)]
pub struct CmapArgs {
    #[command(subcommand)]
    command: CmapCommand,
    /// Work on the statistics map (`corosync-cmapctl -m stats`).
    #[arg(long, global = true)]
    stats: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Subcommand, Debug)]
enum CmapCommand {
    /// Print one key.
    Get { key: String },
    /// Set a key: `ferrosync cmap set totem.token u32 3000`.
    Set {
        key: String,
        #[arg(value_enum)]
        r#type: ValueType,
        /// The value (`bin`: hexadecimal digits).
        value: String,
    },
    /// Delete a key.
    Delete { key: String },
    /// Print every key, or those starting with PREFIX.
    List { prefix: Option<String> },
    /// Print changes of KEY (every key under it with --prefix) as they happen.
    Track {
        key: String,
        #[arg(long)]
        prefix: bool,
        /// Stop after this many changes (default: run until interrupted).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
}

/// cmap's value types, named as `corosync-cmapctl` names them.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Flt,
    Dbl,
    Str,
    Bin,
}

/// Parses `text` as a value of type `t`; the error says what was expected.
pub fn parse_value(t: ValueType, text: &str) -> Result<Value> {
    fn num<T: std::str::FromStr>(t: ValueType, s: &str) -> Result<T> {
        s.trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{s:?} is not a valid {t:?} value"))
    }
    Ok(match t {
        ValueType::I8 => Value::I8(num(t, text)?),
        ValueType::U8 => Value::U8(num(t, text)?),
        ValueType::I16 => Value::I16(num(t, text)?),
        ValueType::U16 => Value::U16(num(t, text)?),
        ValueType::I32 => Value::I32(num(t, text)?),
        ValueType::U32 => Value::U32(num(t, text)?),
        ValueType::I64 => Value::I64(num(t, text)?),
        ValueType::U64 => Value::U64(num(t, text)?),
        ValueType::Flt => Value::Float(num(t, text)?),
        ValueType::Dbl => Value::Double(num(t, text)?),
        ValueType::Str => Value::String(text.to_owned()),
        ValueType::Bin => {
            let t = text.trim();
            if !t.len().is_multiple_of(2) || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
                bail!("{text:?} is not an even number of hexadecimal digits");
            }
            Value::Binary(
                (0..t.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap_or(0))
                    .collect(),
            )
        }
    })
}

/// `key (type) = value`, as corosync-cmapctl prints it.
pub fn line(key: &str, v: &Value) -> String {
    format!("{key} ({}) = {v}", v.type_name())
}

pub fn run(args: CmapArgs, json: bool) -> Result<()> {
    let options = args.daemon.options()?;
    let map = if args.stats { Map::Stats } else { Map::Icmap };
    let cmap = open("cmap", || Cmap::initialize_with(map, &options))?;
    match args.command {
        CmapCommand::Get { key } => {
            let v = cmap.get(&key).with_context(|| format!("get {key}"))?;
            if json {
                print_json(&json!({"key": key, "type": v.type_name(), "value": value_json(&v)}))?;
            } else {
                println!("{}", line(&key, &v));
            }
        }
        CmapCommand::Set { key, r#type, value } => {
            let v = parse_value(r#type, &value)?;
            cmap.set(&key, &v).with_context(|| format!("set {key}"))?;
            if json {
                print_json(&json!({"key": key, "type": v.type_name(), "value": value_json(&v)}))?;
            }
        }
        CmapCommand::Delete { key } => {
            cmap.delete(&key).with_context(|| format!("delete {key}"))?;
            if json {
                print_json(&json!({"deleted": key}))?;
            }
        }
        CmapCommand::List { prefix } => {
            let items = cmap.iter_prefix(prefix.as_deref().unwrap_or("")).context("list keys")?;
            if json {
                let all: serde_json::Map<String, serde_json::Value> = items
                    .iter()
                    .map(|(k, v)| (k.clone(), json!({"type": v.type_name(), "value": value_json(v)})))
                    .collect();
                print_json(&all.into())?;
            } else {
                for (k, v) in &items {
                    println!("{}", line(k, v));
                }
            }
        }
        CmapCommand::Track { key, prefix, count } => {
            let mut kind = TrackKind::ALL;
            if prefix {
                kind = kind | TrackKind::PREFIX;
            }
            cmap.track_add(&key, kind, 0).with_context(|| format!("track {key}"))?;
            let mut seen = 0u64;
            while count.is_none_or(|c| seen < c) {
                cmap.dispatch(DispatchFlags::One, |n| {
                    seen += 1;
                    let change = match n.change {
                        Change::Added => "add",
                        Change::Deleted => "delete",
                        Change::Modified => "modify",
                    };
                    if json {
                        let v = |v: &Option<Value>| v.as_ref().map_or(serde_json::Value::Null, value_json);
                        println!(
                            "{}",
                            json!({"change": change, "key": n.key, "new": v(&n.new), "old": v(&n.old)})
                        );
                    } else {
                        let show = |v: &Option<Value>| {
                            v.as_ref()
                                .map_or("(none)".to_owned(), |v| format!("({}) {v}", v.type_name()))
                        };
                        println!("{change} {}: {} -> {}", n.key, show(&n.old), show(&n.new));
                    }
                })
                .context("wait for changes")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_per_type_and_bad_ones_say_why() {
        assert_eq!(parse_value(ValueType::U32, "3000").unwrap(), Value::U32(3000));
        assert_eq!(parse_value(ValueType::I8, "-5").unwrap(), Value::I8(-5));
        assert_eq!(parse_value(ValueType::Str, "a b").unwrap(), Value::String("a b".into()));
        assert_eq!(
            parse_value(ValueType::Bin, "00ff").unwrap(),
            Value::Binary(vec![0, 255])
        );
        let e = parse_value(ValueType::U8, "300").unwrap_err().to_string();
        assert!(e.contains("not a valid U8"), "{e}");
        assert!(parse_value(ValueType::Bin, "0f0").is_err());
        assert_eq!(line("totem.token", &Value::U32(1)), "totem.token (u32) = 1");
    }
}
