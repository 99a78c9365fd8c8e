//! `attrd_updater`: transient node attributes through the attribute manager, with
//! dampening (`-d`), as ocf:pacemaker:ping, HealthCPU and SysInfo call it.

use std::ffi::OsString;

use clap::Parser;

use super::{exit, parse_args, Daemon, Env, Failure, Outcome};

#[derive(Parser, Debug)]
#[command(
    name = "attrd_updater",
    about = "Tool for updating cluster node attributes",
    disable_version_flag = true
)]
struct Args {
    /// The attribute's name.
    #[arg(short = 'n', long = "name")]
    name: Option<String>,
    /// Update the value (write it after the dampening delay).
    #[arg(short = 'U', long = "update", short_alias = 'v', value_name = "VALUE")]
    update: Option<String>,
    /// Update the value and the dampening delay (-d).
    #[arg(short = 'B', long = "update-both", value_name = "VALUE")]
    update_both: Option<String>,
    /// Update only the dampening delay (-d).
    #[arg(short = 'Y', long = "update-delay")]
    update_delay: bool,
    /// Query the value (the default command).
    #[arg(short = 'Q', long = "query")]
    query: bool,
    /// Delete the attribute.
    #[arg(short = 'D', long = "delete")]
    delete: bool,
    /// Write every attribute to the CIB again (the writer does this by itself).
    #[arg(short = 'R', long = "refresh")]
    refresh: bool,
    /// Dampening delay (`5s`, `500ms`, seconds when no unit).
    #[arg(short = 'd', long = "delay")]
    delay: Option<String>,
    /// (Advanced) the attribute set (ignored: one set per node).
    #[arg(short = 's', long = "set")]
    set: Option<String>,
    /// The node (default: this node).
    #[arg(short = 'N', long = "node")]
    node: Option<String>,
    /// With -Q, every node's value.
    #[arg(short = 'A', long = "all")]
    all: bool,
    /// Lifetime: reboot (the attribute manager holds transient attributes only).
    #[arg(short = 'l', long = "lifetime", alias = "section", short_alias = 'S')]
    lifetime: Option<String>,
    /// Keep the attribute out of the CIB.
    #[arg(short = 'p', long = "private")]
    private: bool,
    #[arg(short = 'q', long = "quiet", hide = true)]
    quiet: bool,
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Query {
        all: bool,
    },
    Update {
        value: Option<String>,
        dampen_ms: Option<u64>,
    },
    Delete,
    Refresh,
}

fn command(a: &Args) -> Result<(Command, Option<String>), Failure> {
    if let Some(l) = &a.lifetime {
        match l.as_str() {
            "reboot" | "status" => {}
            "forever" | "nodes" => return Err(Failure::usage(
                "attrd_updater: the attribute manager keeps transient attributes only; use crm_attribute -l forever",
            )),
            other => return Err(Failure::usage(format!("Unknown value for --lifetime: {other}"))),
        }
    }
    if a.private {
        return Err(Failure::usage(
            "attrd_updater: private attributes (-p) are not supported by ferrosync; every attribute is written to the CIB",
        ));
    }
    let dampen_ms = match &a.delay {
        None => None,
        Some(d) => Some(cib::parse_interval_ms(d).ok_or_else(|| Failure::usage(format!("Invalid delay '{d}'")))?),
    };
    let cmd = if a.delete {
        Command::Delete
    } else if a.refresh {
        Command::Refresh
    } else if let Some(v) = &a.update_both {
        Command::Update {
            value: Some(v.clone()),
            dampen_ms,
        }
    } else if a.update_delay {
        Command::Update { value: None, dampen_ms }
    } else if let Some(v) = &a.update {
        Command::Update {
            value: Some(v.clone()),
            dampen_ms: None,
        }
    } else {
        Command::Query { all: a.all }
    };
    if cmd != Command::Refresh && a.name.is_none() {
        return Err(Failure::usage("Command requires --name argument"));
    }
    Ok((cmd, a.name.clone()))
}

pub fn run(args: Vec<OsString>, env: &Env) -> Outcome {
    let a = parse_args::<Args>("attrd_updater", args)?;
    let (cmd, name) = command(&a)?;
    let mut d = Daemon::new(env);
    let mut warnings = Vec::new();
    if matches!(cmd, Command::Update { dampen_ms: None, .. }) && (a.update_both.is_some() || a.update_delay) {
        warnings.push(format!(
            "Warning: '{}' command given without required --delay",
            if a.update_delay { 'Y' } else { 'B' }
        ));
    }
    match cmd {
        Command::Refresh => Ok(warnings),
        Command::Query { all } => {
            let name = name.expect("checked");
            let node = if all {
                None
            } else {
                Some(d.target_node(a.node.as_deref())?)
            };
            let rows = d.attributes(node.as_deref(), Some(&name))?;
            if rows.is_empty() {
                return Err(Failure::new(
                    exit::CONFIG,
                    format!("Could not query value of {name}: attribute does not exist"),
                ));
            }
            // lib/pacemaker/pcmk_output.c attribute_default.
            Ok(rows
                .into_iter()
                .map(|(node, name, value)| format!("name=\"{name}\" host=\"{node}\" value=\"{value}\""))
                .collect())
        }
        Command::Delete => {
            let node = d.target_node(a.node.as_deref())?;
            let name = name.expect("checked");
            d.set_attribute(&node, &name, None, None)
                .map_err(|f| Failure::new(f.code, format!("Could not update {name}=(null): {}", f.message)))?;
            Ok(warnings)
        }
        Command::Update { value, dampen_ms } => {
            let node = d.target_node(a.node.as_deref())?;
            let name = name.expect("checked");
            // -Y changes only the delay: the current value is set again with it.
            let value = match value {
                Some(v) => v,
                None => match d.attributes(Some(&node), Some(&name))?.into_iter().next() {
                    Some((_, _, v)) => v,
                    None => return Ok(warnings),
                },
            };
            d.set_attribute(&node, &name, Some(&value), dampen_ms)
                .map_err(|f| Failure::new(f.code, format!("Could not update {name}={value}: {}", f.message)))?;
            Ok(warnings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(a: &[&str]) -> Result<(Command, Option<String>), Failure> {
        command(&parse_args::<Args>(
            "attrd_updater",
            a.iter().map(OsString::from).collect(),
        )?)
    }

    #[test]
    fn commands_as_ping_and_healthcpu_send_them() {
        // ocf:pacemaker:ping: attrd_updater -n pingd -v 1000 -d 5s.
        assert_eq!(
            cmd(&["-n", "pingd", "-v", "1000", "-d", "5s"]).unwrap().0,
            Command::Update {
                value: Some("1000".into()),
                dampen_ms: None
            }
        );
        assert_eq!(
            cmd(&["-n", "pingd", "-B", "1000", "-d", "5"]).unwrap().0,
            Command::Update {
                value: Some("1000".into()),
                dampen_ms: Some(5000)
            }
        );
        assert_eq!(
            cmd(&["-n", "pingd", "-Y", "-d", "500ms"]).unwrap().0,
            Command::Update {
                value: None,
                dampen_ms: Some(500)
            }
        );
        assert_eq!(cmd(&["-n", "pingd", "-D"]).unwrap().0, Command::Delete);
        assert_eq!(
            cmd(&["-n", "pingd", "-Q", "-A"]).unwrap().0,
            Command::Query { all: true }
        );
        assert_eq!(cmd(&["-n", "pingd"]).unwrap().0, Command::Query { all: false });
        assert_eq!(cmd(&["-R"]).unwrap().0, Command::Refresh);
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(cmd(&["-Q"]).unwrap_err().message, "Command requires --name argument");
        assert_eq!(
            cmd(&["-n", "a", "-U", "1", "-l", "weekly"]).unwrap_err().message,
            "Unknown value for --lifetime: weekly"
        );
        assert_eq!(
            cmd(&["-n", "a", "-U", "1", "-l", "forever"]).unwrap_err().code,
            exit::USAGE
        );
        assert_eq!(
            cmd(&["-n", "a", "-B", "1", "-d", "soon"]).unwrap_err().code,
            exit::USAGE
        );
    }
}
