//! `crm_node`: this node's name and id, the nodes and the partition, quorum
//! (`ocf_local_nodename` in the OCF shell functions runs `crm_node -n`).

use std::ffi::OsString;

use clap::Parser;
use serde_json::Value;

use super::{exit, parse_args, Daemon, Env, Failure, Outcome};

#[derive(Parser, Debug)]
#[command(
    name = "crm_node",
    about = "Node information from the cluster",
    disable_version_flag = true
)]
struct Args {
    /// This node's cluster id.
    #[arg(short = 'i', long = "cluster-id")]
    cluster_id: bool,
    /// Every node: id, name, state.
    #[arg(short = 'l', long = "list")]
    list: bool,
    /// This node's name.
    #[arg(short = 'n', long = "name")]
    name: bool,
    /// The names of the members of this partition.
    #[arg(short = 'p', long = "partition")]
    partition: bool,
    /// 1 if this partition has quorum, else 0 (exit 106).
    #[arg(short = 'q', long = "quorum")]
    quorum: bool,
    /// The name of the node with this id.
    #[arg(short = 'N', long = "name-for-id", value_name = "ID")]
    name_for_id: Option<u32>,
    /// Remove a node from the cluster (not supported here: use ferrosync crm).
    #[arg(short = 'R', long = "remove", value_name = "NODE")]
    remove: Option<String>,
    #[arg(short = 'f', long = "force")]
    force: bool,
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

/// The status answer's nodes: id, name, member, sorted by name as crm_node sorts them.
fn nodes(status: &Value) -> Vec<(u32, String, bool)> {
    let mut v: Vec<(u32, String, bool)> = status["nodes"]
        .as_array()
        .map(|ns| {
            ns.iter()
                .filter_map(|n| {
                    Some((
                        u32::try_from(n["id"].as_u64()?).ok()?,
                        n["uname"].as_str().unwrap_or("").to_string(),
                        n["member"].as_bool().unwrap_or(false),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    v
}

fn answer(a: &Args, status: &Value) -> Outcome {
    if let Some(id) = a.name_for_id {
        return match nodes(status).into_iter().find(|n| n.0 == id && !n.1.is_empty()) {
            Some((_, name, _)) => Ok(vec![name]),
            None => Err(Failure::new(exit::NOHOST, "Node is not known to cluster")),
        };
    }
    if a.cluster_id {
        return match status["me"]["node"].as_u64() {
            Some(id) => Ok(vec![id.to_string()]),
            None => Err(Failure::new(
                exit::ERROR,
                "error: the controller did not say this node's id",
            )),
        };
    }
    if a.quorum {
        let q = status["quorate"].as_bool().unwrap_or(false);
        return if q {
            Ok(vec!["1".into()])
        } else {
            println!("0");
            Err(Failure::new(exit::QUORUM, ""))
        };
    }
    if a.list {
        return Ok(nodes(status)
            .into_iter()
            .map(|(id, name, member)| format!("{id} {name} {}", if member { "member" } else { "lost" }))
            .collect());
    }
    if a.partition {
        let names: String = nodes(status)
            .into_iter()
            .filter(|n| n.2)
            .map(|n| format!("{} ", n.1))
            .collect();
        return Ok(vec![names]);
    }
    // -n, and crm_node without a command.
    match status["uname"].as_str() {
        Some(n) => Ok(vec![n.to_string()]),
        None => Err(Failure::new(exit::NOHOST, "Node is not known to cluster")),
    }
}

pub fn run(args: Vec<OsString>, env: &Env) -> Outcome {
    let a = parse_args::<Args>("crm_node", args)?;
    if let Some(n) = &a.remove {
        return Err(Failure::new(
            exit::ERROR,
            format!("crm_node -R {n}: not supported by ferrosync; delete the node with `ferrosync crm config edit`"),
        ));
    }
    let mut d = Daemon::new(env);
    let status = d.status()?.clone();
    answer(&a, &status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ask(a: &[&str], status: &Value) -> Outcome {
        answer(
            &parse_args::<Args>("crm_node", a.iter().map(OsString::from).collect()).unwrap(),
            status,
        )
    }

    #[test]
    fn answers_as_crm_node() {
        let s = json!({"uname": "node2", "me": {"node": 2, "pid": 9}, "quorate": true, "nodes": [
            {"id": 3, "uname": "node3", "member": false},
            {"id": 1, "uname": "node1", "member": true},
            {"id": 2, "uname": "node2", "member": true},
        ]});
        assert_eq!(ask(&["-n"], &s).unwrap(), vec!["node2"]);
        assert_eq!(ask(&[], &s).unwrap(), vec!["node2"]);
        assert_eq!(ask(&["-i"], &s).unwrap(), vec!["2"]);
        assert_eq!(ask(&["-q"], &s).unwrap(), vec!["1"]);
        assert_eq!(
            ask(&["-l"], &s).unwrap(),
            vec!["1 node1 member", "2 node2 member", "3 node3 lost"]
        );
        assert_eq!(ask(&["-p"], &s).unwrap(), vec!["node1 node2 "]);
        assert_eq!(ask(&["-N", "3"], &s).unwrap(), vec!["node3"]);
        assert_eq!(ask(&["-N", "7"], &s).unwrap_err().code, exit::NOHOST);
        let s = json!({"uname": "node2", "quorate": false, "nodes": []});
        assert_eq!(ask(&["-q"], &s).unwrap_err().code, exit::QUORUM);
    }
}
