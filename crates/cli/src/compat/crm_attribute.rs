//! `crm_attribute` (and `crm_master`, Pacemaker's deprecated wrapper around
//! `crm_attribute -n master-RSC`): node attributes, transient (the attribute manager)
//! or permanent (the configuration's `<node>`), and cluster options.

use std::ffi::OsString;

use clap::Parser;
use crm::admin::{self, NodeSet, NvPair};
use regex::Regex;

use super::{exit, parse_args, Daemon, Env, Failure, Outcome};

/// Which tool the arguments are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    CrmAttribute,
    CrmMaster,
}

#[derive(Parser, Debug)]
#[command(
    name = "crm_attribute",
    about = "Query and update node attributes and cluster options",
    disable_version_flag = true
)]
struct Args {
    /// Operate on the attribute or option with this name.
    #[arg(short = 'n', long = "name", alias = "attr-name")]
    name: Option<String>,
    /// Operate on all attributes matching this regular expression (with -G, or with -v/-D
    /// and -l reboot).
    #[arg(short = 'P', long = "pattern")]
    pattern: Option<String>,
    /// Operate on the promotion score of RESOURCE (default: OCF_RESOURCE_INSTANCE); the
    /// lifetime defaults to reboot.
    #[arg(short = 'p', long = "promotion", num_args = 0..=1, default_missing_value = "", value_name = "RESOURCE")]
    promotion: Option<String>,
    /// (Advanced) the nvpair with this XML id.
    #[arg(short = 'i', long = "id", alias = "attr-id")]
    id: Option<String>,
    /// (Advanced) the nvpair within the set with this XML id.
    #[arg(short = 's', long = "set-name")]
    set_name: Option<String>,
    /// Delete the attribute or option.
    #[arg(short = 'D', long = "delete", alias = "delete-attr")]
    delete: bool,
    /// Query the current value (the default command).
    #[arg(short = 'G', long = "query", alias = "get-value")]
    query: bool,
    /// Update the value.
    #[arg(short = 'v', long = "update", alias = "attr-value", value_name = "VALUE")]
    update: Option<String>,
    /// (Advanced) the value shown when none is found.
    #[arg(short = 'd', long = "default")]
    default: Option<String>,
    /// Lifetime of a node attribute: reboot or forever.
    #[arg(short = 'l', long = "lifetime")]
    lifetime: Option<String>,
    /// The node (default: this node) of a node attribute.
    #[arg(
        short = 'N',
        long = "node",
        visible_alias = "uname",
        alias = "node-uname",
        short_alias = 'U'
    )]
    node: Option<String>,
    /// Section: crm_config, rsc_defaults, op_defaults (or status, nodes).
    #[arg(short = 't', long = "type", alias = "section")]
    section: Option<String>,
    /// A utilization attribute of the node.
    #[arg(short = 'z', long = "utilization")]
    utilization: bool,
    /// Print only the value.
    #[arg(short = 'q', long = "quiet", short_alias = 'Q')]
    quiet: bool,
    /// More logging (ignored).
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Parser, Debug)]
#[command(
    name = "crm_master",
    about = "Deprecated: crm_attribute --promotion",
    disable_version_flag = true
)]
struct MasterArgs {
    #[arg(short = 'q', long = "quiet", short_alias = 'Q')]
    quiet: bool,
    #[arg(short = 'G', long = "query", alias = "get-value")]
    query: bool,
    #[arg(short = 'v', long = "update", alias = "attr-value", value_name = "VALUE")]
    update: Option<String>,
    #[arg(short = 'D', long = "delete", alias = "delete-attr")]
    delete: bool,
    #[arg(short = 'N', long = "node", alias = "uname", short_alias = 'U')]
    node: Option<String>,
    #[arg(short = 'l', long = "lifetime")]
    lifetime: Option<String>,
    #[arg(short = 'i', long = "id", alias = "attr-id")]
    id: Option<String>,
    #[arg(short = 'r', long = "resource")]
    resource: Option<String>,
    #[arg(short = 'V', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Query,
    Update(String),
    Delete,
}

/// Where an attribute lives (`-t`/`-l`, as Pacemaker's `set_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// Transient node attributes (`-l reboot`): the attribute manager.
    Status,
    /// Permanent node attributes (`-l forever`) or utilization.
    Nodes(NodeSet),
    /// crm_config, rsc_defaults or op_defaults.
    Options(String),
}

impl Scope {
    fn label(&self) -> &str {
        match self {
            Scope::Status => "status",
            Scope::Nodes(_) => "nodes",
            Scope::Options(s) => s,
        }
    }
}

/// What one invocation asks, resolved from the arguments and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    command: Command,
    scope: Scope,
    /// The attribute name, or a regular expression with `pattern`.
    name: Option<String>,
    pattern: bool,
    node: Option<String>,
    id: Option<String>,
    set_name: Option<String>,
    default: Option<String>,
    quiet: bool,
}

fn plan(args: Args, env: &Env) -> Result<Plan, Failure> {
    let command = if args.delete {
        Command::Delete
    } else if let Some(v) = args.update {
        Command::Update(v)
    } else {
        Command::Query
    };
    let mut name = args.name;
    if let Some(rsc) = &args.promotion {
        let rsc = if rsc.is_empty() {
            env.resource_instance.clone()
        } else {
            Some(rsc.clone())
        };
        name = Some(format!(
            "master-{}",
            rsc.ok_or_else(|| Failure::usage(
                "-p/--promotion must be called from an OCF resource agent or with a resource ID specified"
            ))?
        ));
    }
    let section = args.lifetime.or(args.section);
    let scope = if args.utilization {
        Scope::Nodes(NodeSet::Utilization)
    } else {
        match section.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None if args.promotion.is_some() => Scope::Status,
            None if args.node.is_some() => Scope::Nodes(NodeSet::Attributes),
            None => Scope::Options("crm_config".into()),
            Some("reboot" | "status") => Scope::Status,
            Some("forever" | "nodes") => Scope::Nodes(NodeSet::Attributes),
            Some(s @ ("crm_config" | "rsc_defaults" | "op_defaults")) => Scope::Options(s.into()),
            Some(s) => {
                return Err(Failure::usage(format!(
                    "Unknown lifetime or section '{s}' (reboot, forever, crm_config, rsc_defaults, op_defaults)"
                )))
            }
        }
    };
    let pattern = args.pattern.is_some();
    if let Some(p) = args.pattern {
        let ok = command == Command::Query || scope == Scope::Status;
        if !ok {
            return Err(Failure::usage(
                "Error: pattern can only be used with query, or with till-reboot update or delete",
            ));
        }
        name = Some(p);
    }
    if command == Command::Delete && name.is_none() {
        return Err(Failure::usage(
            "Error: must specify attribute name or pattern to delete",
        ));
    }
    if matches!(command, Command::Update(_)) && name.is_none() {
        return Err(Failure::usage("Error: must specify attribute name to update"));
    }
    Ok(Plan {
        command,
        scope,
        name,
        pattern,
        node: args.node,
        id: args.id,
        set_name: args.set_name,
        default: args.default,
        quiet: args.quiet,
    })
}

/// `crm_master` as its script does: `crm_attribute -n master-RSC` with lifetime
/// `forever` unless `-l` says otherwise.
fn master_plan(args: MasterArgs, env: &Env) -> Result<Plan, Failure> {
    let rsc = args
        .resource
        .or_else(|| env.resource_instance.clone())
        .ok_or_else(|| Failure::usage("error: No resource specified"))?;
    let attr = Args {
        name: Some(format!("master-{rsc}")),
        pattern: None,
        promotion: None,
        id: args.id,
        set_name: None,
        delete: args.delete,
        query: args.query,
        update: args.update,
        default: None,
        lifetime: Some(args.lifetime.unwrap_or_else(|| "forever".into())),
        node: args.node,
        section: None,
        utilization: false,
        quiet: args.quiet,
        verbose: args.verbose,
    };
    plan(attr, env)
}

pub fn run(args: Vec<OsString>, env: &Env, flavour: Flavour) -> Outcome {
    let plan = match flavour {
        Flavour::CrmAttribute => plan(parse_args::<Args>("crm_attribute", args)?, env)?,
        Flavour::CrmMaster => master_plan(parse_args::<MasterArgs>("crm_master", args)?, env)?,
    };
    execute(&plan, &mut Daemon::new(env))
}

/// Which attribute names a command is about.
enum NameMatch {
    Any,
    Exact(String),
    Pattern(Regex),
}

impl NameMatch {
    fn of(plan: &Plan) -> Result<NameMatch, Failure> {
        Ok(match (&plan.name, plan.pattern) {
            (None, _) => NameMatch::Any,
            (Some(n), false) => NameMatch::Exact(n.clone()),
            (Some(p), true) => NameMatch::Pattern(
                Regex::new(p).map_err(|e| Failure::usage(format!("Error: invalid pattern '{p}': {e}")))?,
            ),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Any => true,
            NameMatch::Exact(n) => n == name,
            NameMatch::Pattern(re) => re.is_match(name),
        }
    }
}

fn line(plan: &Plan, name: &str, value: &str) -> String {
    if plan.quiet {
        return value.to_string();
    }
    // tools/crm_attribute.c attribute_text: "%s%s %s%s %s%s value=%s".
    let id = plan.id.as_deref().map(|i| format!("id={i}")).unwrap_or_default();
    format!("scope={} {id} name={name} value={value}", plan.scope.label())
}

fn not_found() -> Failure {
    Failure::new(exit::NOSUCH, "Error performing operation: No such device or address")
}

fn execute(plan: &Plan, d: &mut Daemon<'_>) -> Outcome {
    let names = NameMatch::of(plan)?;
    let matches = |n: &str| names.matches(n);
    let node = match plan.scope {
        Scope::Options(_) => None,
        _ => Some(d.target_node(plan.node.as_deref())?),
    };
    match (&plan.scope, &plan.command) {
        (Scope::Status, Command::Query) => {
            let exact = if plan.pattern { None } else { plan.name.as_deref() };
            let rows = d.attributes(node.as_deref(), exact)?;
            let found: Vec<String> = rows
                .iter()
                .filter(|(_, n, _)| matches(n))
                .map(|(_, n, v)| line(plan, n, v))
                .collect();
            answer(plan, found)
        }
        (Scope::Status, cmd) => {
            let node = node.expect("a node scope");
            let value = match cmd {
                Command::Update(v) => Some(v.as_str()),
                _ => None,
            };
            let names: Vec<String> = if plan.pattern {
                let mut names: Vec<String> = d
                    .attributes(Some(&node), None)?
                    .into_iter()
                    .map(|(_, n, _)| n)
                    .filter(|n| matches(n))
                    .collect();
                names.dedup();
                names
            } else {
                plan.name.iter().cloned().collect()
            };
            for n in names {
                d.set_attribute(&node, &n, value, None)?;
            }
            Ok(Vec::new())
        }
        (scope, Command::Query) => {
            let doc = d
                .socket("the CIB")?
                .query()
                .map_err(|e| Failure::new(exit::ERROR, format!("{e:#}")))?;
            let pairs = match scope {
                Scope::Nodes(set) => admin::node_set_pairs(&doc, node.as_deref().expect("a node scope"), *set),
                Scope::Options(s) => admin::option_pairs(&doc, s),
                Scope::Status => unreachable!("handled above"),
            }
            .map_err(|e| Failure::new(exit::NOSUCH, format!("Error performing operation: {e}")))?;
            let found: Vec<String> = pairs
                .iter()
                .filter(|p: &&NvPair| matches(&p.name))
                .filter(|p| plan.id.as_ref().is_none_or(|i| *i == p.id))
                .filter(|p| plan.set_name.as_ref().is_none_or(|s| *s == p.set_id))
                .map(|p| line(plan, &p.name, &p.value))
                .collect();
            answer(plan, found)
        }
        (scope, cmd) => {
            let name = plan.name.as_deref().expect("checked by plan");
            let value = match cmd {
                Command::Update(v) => Some(v.as_str()),
                _ => None,
            };
            let sock = d.socket("the CIB")?;
            let doc = sock.query().map_err(|e| Failure::new(exit::ERROR, format!("{e:#}")))?;
            let ops = match scope {
                Scope::Nodes(set) => {
                    admin::node_set_attribute(&doc, node.as_deref().expect("a node scope"), *set, name, value)
                }
                Scope::Options(s) => admin::option_set(&doc, s, name, value),
                Scope::Status => unreachable!("handled above"),
            }
            .map_err(|e| Failure::new(exit::ERROR, format!("Error performing operation: {e}")))?;
            if !ops.is_empty() {
                sock.apply(&ops)
                    .map_err(|e| Failure::new(exit::ERROR, format!("Error performing operation: {e:#}")))?;
            }
            Ok(Vec::new())
        }
    }
}

/// The query's lines; none found is the default when given, else "No such device".
fn answer(plan: &Plan, found: Vec<String>) -> Outcome {
    if !found.is_empty() {
        return Ok(found);
    }
    match &plan.default {
        Some(v) => Ok(vec![line(plan, plan.name.as_deref().unwrap_or(""), v)]),
        None => Err(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Args {
        parse_args::<Args>("crm_attribute", a.iter().map(OsString::from).collect()).unwrap()
    }

    fn agent_env() -> Env {
        Env {
            resource_instance: Some("stateful".into()),
            on_node: Some("node2".into()),
            ..Env::default()
        }
    }

    #[test]
    fn promotion_as_stateful_calls_it() {
        // ocf:pacemaker:Stateful: crm_attribute --promotion -v 10 / --promotion -D.
        let p = plan(args(&["--promotion", "-v", "10"]), &agent_env()).unwrap();
        assert_eq!(p.command, Command::Update("10".into()));
        assert_eq!(p.scope, Scope::Status);
        assert_eq!(p.name.as_deref(), Some("master-stateful"));
        let p = plan(args(&["--promotion", "-D"]), &agent_env()).unwrap();
        assert_eq!(p.command, Command::Delete);
        // ocf-shellfuncs: crm_attribute -p -G -q.
        let p = plan(args(&["-p", "-G", "-q"]), &agent_env()).unwrap();
        assert_eq!((p.command, p.quiet), (Command::Query, true));
        let p = plan(args(&["--promotion=db", "-v", "5"]), &Env::default()).unwrap();
        assert_eq!(p.name.as_deref(), Some("master-db"));
        let e = plan(args(&["--promotion", "-v", "5"]), &Env::default()).unwrap_err();
        assert_eq!(e.code, exit::USAGE);
    }

    #[test]
    fn scope_follows_pacemakers_set_type() {
        let e = Env::default();
        assert_eq!(
            plan(args(&["-n", "x", "-v", "1"]), &e).unwrap().scope,
            Scope::Options("crm_config".into())
        );
        assert_eq!(
            plan(args(&["-N", "n1", "-n", "x", "-v", "1"]), &e).unwrap().scope,
            Scope::Nodes(NodeSet::Attributes)
        );
        assert_eq!(
            plan(args(&["-l", "reboot", "-n", "x", "-G"]), &e).unwrap().scope,
            Scope::Status
        );
        assert_eq!(
            plan(
                args(&["-t", "rsc_defaults", "-n", "resource-stickiness", "-v", "1"]),
                &e
            )
            .unwrap()
            .scope,
            Scope::Options("rsc_defaults".into())
        );
        assert_eq!(
            plan(args(&["-z", "-N", "n1", "-n", "cpu", "-v", "4"]), &e)
                .unwrap()
                .scope,
            Scope::Nodes(NodeSet::Utilization)
        );
        assert_eq!(
            plan(args(&["-l", "sometimes", "-n", "x"]), &e).unwrap_err().code,
            exit::USAGE
        );
    }

    #[test]
    fn usage_errors_are_pacemakers() {
        let e = Env::default();
        assert_eq!(plan(args(&["-D"]), &e).unwrap_err().code, exit::USAGE);
        let err = plan(args(&["-P", "fail-.*", "-v", "1", "-l", "forever"]), &e).unwrap_err();
        assert!(err.message.contains("pattern can only be used"), "{}", err.message);
        assert!(
            plan(args(&["-P", "fail-.*", "-D", "-l", "reboot"]), &e)
                .unwrap()
                .pattern
        );
        let err = parse_args::<Args>("crm_attribute", vec!["--bogus".into()]).unwrap_err();
        assert_eq!(err.code, exit::USAGE);
    }

    #[test]
    fn crm_master_is_crm_attribute_with_a_master_name_forever() {
        let env = agent_env();
        let m = |a: &[&str]| {
            master_plan(
                parse_args::<MasterArgs>("crm_master", a.iter().map(OsString::from).collect()).unwrap(),
                &env,
            )
            .unwrap()
        };
        let p = m(&["-l", "reboot", "-v", "100"]);
        assert_eq!((p.scope, p.name.as_deref()), (Scope::Status, Some("master-stateful")));
        let p = m(&["-Q", "-G"]);
        assert_eq!(p.scope, Scope::Nodes(NodeSet::Attributes));
        assert!(p.quiet);
        let p = m(&["-r", "other", "-D", "-l", "reboot"]);
        assert_eq!((p.command, p.name.as_deref()), (Command::Delete, Some("master-other")));
    }

    #[test]
    fn text_output_matches_crm_attribute() {
        let p = plan(args(&["-l", "reboot", "-n", "master-x", "-G"]), &Env::default()).unwrap();
        assert_eq!(line(&p, "master-x", "10"), "scope=status  name=master-x value=10");
        let p = plan(
            args(&["-l", "reboot", "-n", "x", "-G", "-q", "-d", "0"]),
            &Env::default(),
        )
        .unwrap();
        assert_eq!(answer(&p, Vec::new()).unwrap(), vec!["0".to_string()]);
        let p = plan(args(&["-n", "x", "-G"]), &Env::default()).unwrap();
        assert_eq!(answer(&p, Vec::new()).unwrap_err().code, exit::NOSUCH);
    }
}
