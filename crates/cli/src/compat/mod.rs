//! Pacemaker's attribute tools under their own names — `crm_attribute`, `crm_master`,
//! `attrd_updater`, `crm_node` — for resource agents run by `ferrosync-crmd` (which
//! links them into the agents' `HA_SBIN_DIR`, see `crm_daemon::tools`). The `ferrosync`
//! binary runs one when `argv[0]` names it. Options, output and exit codes are
//! Pacemaker 2.1's (tools/crm_attribute.c, tools/attrd_updater.c, tools/crm_node.c);
//! they talk to the local `ferrosync-crmd` over its control socket.

mod attrd_updater;
mod crm_attribute;
mod crm_node;

use std::ffi::OsString;
use std::path::PathBuf;

use crm_daemon::tools::SOCKET_ENV;
use serde_json::Value;

use crate::commands::crm_socket::{CrmSocket, DEFAULT_SOCKET};

/// Pacemaker's exit codes (include/crm/common/results.h) that these tools use.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 64;
    pub const NOHOST: i32 = 68;
    pub const CONFIG: i32 = 78;
    pub const DISCONNECT: i32 = 102;
    pub const NOSUCH: i32 = 105;
    pub const QUORUM: i32 = 106;
}

/// Why a tool stopped: its exit code and the message for stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(exit::USAGE, message)
    }
}

pub type Outcome = Result<Vec<String>, Failure>;

/// The tool `argv[0]` names, if it is one of these.
pub fn tool_named(argv0: &OsString) -> Option<&'static str> {
    let base = std::path::Path::new(argv0).file_name()?.to_str()?;
    crm_daemon::tools::TOOL_NAMES.iter().copied().find(|n| *n == base)
}

/// Runs tool `name` with the process's arguments; returns the exit code.
pub fn run(name: &str, args: Vec<OsString>) -> i32 {
    let env = Env::from_process();
    let outcome = match name {
        "crm_attribute" => crm_attribute::run(args, &env, crm_attribute::Flavour::CrmAttribute),
        "crm_master" => crm_attribute::run(args, &env, crm_attribute::Flavour::CrmMaster),
        "attrd_updater" => attrd_updater::run(args, &env),
        "crm_node" => crm_node::run(args, &env),
        _ => Err(Failure::new(exit::ERROR, format!("{name}: not a tool of this program"))),
    };
    match outcome {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            exit::OK
        }
        // --help and --version print on stdout and exit 0.
        Err(f) if f.code == exit::OK => {
            print!("{}", f.message);
            exit::OK
        }
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            f.code
        }
    }
}

/// The environment these tools read (a struct, so tests need not set variables).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub socket: Option<PathBuf>,
    /// `OCF_RESOURCE_INSTANCE`.
    pub resource_instance: Option<String>,
    /// `OCF_RESKEY_CRM_meta_on_node`.
    pub on_node: Option<String>,
    /// `OCF_RESKEY_CRM_meta_container_attribute_target`.
    pub attribute_target: Option<String>,
    /// `OCF_RESKEY_CRM_meta_physical_host`.
    pub physical_host: Option<String>,
}

impl Env {
    fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            socket: var(SOCKET_ENV).map(PathBuf::from),
            resource_instance: var("OCF_RESOURCE_INSTANCE"),
            on_node: var("OCF_RESKEY_CRM_meta_on_node"),
            attribute_target: var("OCF_RESKEY_CRM_meta_container_attribute_target"),
            physical_host: var("OCF_RESKEY_CRM_meta_physical_host"),
        }
    }

    /// Pacemaker's `pcmk__node_attr_target`: for no node, `auto` or `localhost`, the
    /// node the cluster runs the agent for (the physical host of a bundle with
    /// `container-attribute-target=host`); any other name stands as given.
    pub fn node_target(&self, given: Option<&str>) -> Option<String> {
        match given {
            Some(n) if !n.eq_ignore_ascii_case("auto") && !n.eq_ignore_ascii_case("localhost") => Some(n.to_string()),
            _ => {
                let host = self
                    .attribute_target
                    .as_deref()
                    .filter(|t| t.eq_ignore_ascii_case("host"))
                    .and(self.physical_host.clone());
                host.or_else(|| self.on_node.clone())
            }
        }
    }
}

/// The local CRM daemon, connected lazily: a usage error never needs it.
pub struct Daemon<'a> {
    env: &'a Env,
    sock: Option<CrmSocket>,
    status: Option<Value>,
}

impl<'a> Daemon<'a> {
    pub fn new(env: &'a Env) -> Daemon<'a> {
        Daemon {
            env,
            sock: None,
            status: None,
        }
    }

    pub fn socket(&mut self, what: &str) -> Result<&mut CrmSocket, Failure> {
        if self.sock.is_none() {
            let path = self.env.socket.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
            let s = CrmSocket::connect(Some(&path))
                .map_err(|e| Failure::new(exit::DISCONNECT, format!("Could not connect to {what}: {e:#}")))?;
            self.sock = Some(s);
        }
        Ok(self.sock.as_mut().expect("connected above"))
    }

    /// One request; a refusal is `Error performing operation: …` (exit 1).
    pub fn request(&mut self, req: &Value) -> Result<Value, Failure> {
        self.socket("the cluster")?
            .request(req)
            .map_err(|e| Failure::new(exit::ERROR, format!("Error performing operation: {e:#}")))
    }

    pub fn status(&mut self) -> Result<&Value, Failure> {
        if self.status.is_none() {
            let s = self
                .socket("the controller")?
                .status()
                .map_err(|e| Failure::new(exit::DISCONNECT, format!("error: Could not ping controller: {e:#}")))?;
            self.status = Some(s);
        }
        Ok(self.status.as_ref().expect("fetched above"))
    }

    /// This node's name, as the cluster knows it.
    pub fn local_name(&mut self) -> Result<String, Failure> {
        self.status()?["uname"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Failure::new(exit::ERROR, "the controller did not say this node's name"))
    }

    /// The node an attribute is for: `given` resolved as Pacemaker does, else this node;
    /// a name the cluster does not know is `Could not map name=… to a UUID` (exit 105).
    pub fn target_node(&mut self, given: Option<&str>) -> Result<String, Failure> {
        let name = match self.env.node_target(given) {
            Some(n) => n,
            None => self.local_name()?,
        };
        let known = self.status()?["nodes"]
            .as_array()
            .is_some_and(|ns| ns.iter().any(|n| n["uname"].as_str() == Some(name.as_str())));
        if known {
            Ok(name)
        } else {
            Err(Failure::new(
                exit::NOSUCH,
                format!("Could not map name={name} to a UUID"),
            ))
        }
    }

    /// The attribute manager's values (`node`, `name`, `value` of each).
    pub fn attributes(
        &mut self,
        node: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(String, String, String)>, Failure> {
        let mut req = serde_json::json!({"request": "attributes"});
        if let Some(n) = node {
            req["node"] = n.into();
        }
        if let Some(n) = name {
            req["name"] = n.into();
        }
        let v = self.request(&req)?;
        Ok(v["attributes"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some((
                            r["node"].as_str()?.to_string(),
                            r["name"].as_str()?.to_string(),
                            r["value"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Sets (`Some`) or deletes (`None`) a transient attribute of `node`.
    pub fn set_attribute(
        &mut self,
        node: &str,
        name: &str,
        value: Option<&str>,
        dampen_ms: Option<u64>,
    ) -> Result<(), Failure> {
        let mut req = serde_json::json!({"request": "attribute", "node": node, "name": name, "value": value});
        if let Some(d) = dampen_ms {
            req["dampen"] = d.into();
        }
        self.request(&req).map(|_| ())
    }
}

/// Clap's parse error as Pacemaker reports a usage error (exit 64; help and version
/// print and exit 0).
pub fn parse_args<P: clap::Parser>(name: &str, args: Vec<OsString>) -> Result<P, Failure> {
    P::try_parse_from(std::iter::once(OsString::from(name)).chain(args)).map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Failure::new(exit::OK, e.to_string()),
            _ => Failure::usage(e.to_string().trim_end().to_string()),
        }
    })
}
