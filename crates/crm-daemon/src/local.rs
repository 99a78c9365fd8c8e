//! A local CRM cluster of real processes: N ferrosyncd in network namespaces
//! ([`engine::local_cluster::LocalCluster`]) and a ferrosync-crmd in each, with the
//! test fence agent (`crates/fencer/agents/fence_ferrosync_test`, which "powers off"
//! a node by killing the pids listed for it). What `ferrosync demo`, the benchmarks
//! and the real-process tests run. Root only (namespaces). Dropping it kills every
//! process it started, by PID.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cib::document::CibDocument;
use engine::local_cluster::{ClusterError, LocalCluster, Spec};
use serde_json::{json, Value};
use thiserror::Error;

use crate::control::ControlClient;

/// Where the programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    pub ferrosyncd: PathBuf,
    pub crmd: PathBuf,
    /// The directory holding `fence_ferrosync_test`.
    pub fence_agents: PathBuf,
    /// OCF_ROOT for the agents.
    pub ocf_root: PathBuf,
    /// The `ferrosync` binary, the agents' crm_attribute & co (`ferrosync-crmd --tools`;
    /// its default when `None`).
    pub tools: Option<PathBuf>,
}

#[derive(Debug, Error)]
pub enum LocalCrmError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("node {node}'s control socket: {why}")]
    Control { node: u32, why: String },
    #[error("{what} not within {within:?}")]
    Timeout { what: String, within: Duration },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalCrmError {
    let what = what.into();
    move |source| LocalCrmError::Io { what, source }
}

/// The cluster and its CRM processes.
pub struct LocalCrm {
    crmds: Vec<Option<Child>>,
    pub programs: Programs,
    pub fence_dir: PathBuf,
    // Last: the daemons go after the CRM processes (drop order is field order).
    pub cluster: LocalCluster,
}

impl Drop for LocalCrm {
    fn drop(&mut self) {
        for c in self.crmds.iter_mut().filter_map(Option::take) {
            kill_child(c);
        }
    }
}

fn kill_child(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

impl LocalCrm {
    /// Starts `spec`'s ferrosyncd (with `spec.netns` set), waits for their ring, and
    /// starts a CRM process on every node.
    pub fn start(spec: Spec, programs: Programs) -> Result<LocalCrm, LocalCrmError> {
        let nodes = spec.nodes;
        let cluster = LocalCluster::start(spec)?;
        let fence_dir = cluster.dir.join("fence");
        std::fs::create_dir_all(&fence_dir).map_err(io("create the fence directory"))?;
        let mut crm = LocalCrm {
            crmds: (0..nodes).map(|_| None).collect(),
            programs,
            fence_dir,
            cluster,
        };
        let all: Vec<u32> = (1..=nodes).collect();
        crm.cluster.wait_for_ring(&all, Duration::from_secs(60))?;
        for n in 1..=nodes {
            crm.start_crmd(n)?;
        }
        Ok(crm)
    }

    pub fn nodes(&self) -> u32 {
        self.cluster.spec.nodes
    }

    pub fn dir(&self, n: u32) -> PathBuf {
        self.cluster.node_dir(n)
    }

    pub fn socket(&self, n: u32) -> PathBuf {
        self.dir(n).join("crm.sock")
    }

    /// HA_RSCTMP (and HA_VARRUN) of node `n`'s agents: Dummy's state files.
    pub fn rsctmp(&self, n: u32) -> PathBuf {
        self.dir(n).join("rsctmp")
    }

    pub fn crmd_pid(&self, n: u32) -> Option<u32> {
        self.crmds[n as usize - 1].as_ref().map(Child::id)
    }

    /// Starts node `n`'s CRM process (its ferrosyncd must run) and lists both pids for
    /// the test fence agent.
    pub fn start_crmd(&mut self, n: u32) -> Result<u32, LocalCrmError> {
        let dir = self.dir(n);
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("crmd.stderr"))
            .map_err(io("open crmd.stderr"))?;
        let rsctmp = self.rsctmp(n);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.cluster.netns_name(n)])
            .arg(&self.programs.crmd);
        if let Some(t) = &self.programs.tools {
            cmd.arg("--tools").arg(t);
        }
        let child = cmd
            .arg("--state-dir")
            .arg(dir.join("crm"))
            .arg("--socket")
            .arg(self.socket(n))
            .arg("--rsctmp")
            .arg(&rsctmp)
            // Pacemaker's Dummy keeps its state in HA_VARRUN.
            .arg("--agent-env")
            .arg(format!("HA_VARRUN={}", rsctmp.display()))
            .arg("--ocf-root")
            .arg(&self.programs.ocf_root)
            .arg("--fence-agent-dir")
            .arg(&self.programs.fence_agents)
            .arg("--log-level")
            .arg("debug")
            .arg("--log-file")
            .arg(dir.join("crmd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(io(format!("start {}", self.programs.crmd.display())))?;
        let engine = self.cluster.pid(n).unwrap_or(0);
        let pids = format!("{engine}\n{}\n", child.id());
        std::fs::write(self.fence_dir.join(format!("node{n}.pids")), pids).map_err(io("write the pid list"))?;
        let pid = child.id();
        self.crmds[n as usize - 1] = Some(child);
        Ok(pid)
    }

    /// One request on node `n`'s control socket, its answer as JSON.
    pub fn ask(&self, n: u32, req: &Value) -> Result<Value, LocalCrmError> {
        ControlClient::connect(&self.socket(n), Duration::from_secs(30))
            .and_then(|mut c| c.request(req))
            .map_err(|e| LocalCrmError::Control {
                node: n,
                why: e.to_string(),
            })
    }

    pub fn status(&self, n: u32) -> Option<Value> {
        self.ask(n, &json!({"request": "status"})).ok()
    }

    pub fn query(&self, n: u32) -> Result<CibDocument, LocalCrmError> {
        let v = self.ask(n, &json!({"request": "query"}))?;
        let xml = v["cib"].as_str().ok_or_else(|| LocalCrmError::Control {
            node: n,
            why: format!("no CIB in {v}"),
        })?;
        CibDocument::parse(xml).map_err(|e| LocalCrmError::Control {
            node: n,
            why: e.to_string(),
        })
    }

    /// Waits until the nodes `live` agree on one DC, all members, quorate, the DC's
    /// join complete and nothing left to do.
    pub fn wait_settled(&self, live: &[u32], within: Duration) -> Result<(), LocalCrmError> {
        let end = Instant::now() + within;
        loop {
            let st: Vec<Option<Value>> = live.iter().map(|&n| self.status(n)).collect();
            let agree = st.iter().all(|s| {
                s.as_ref().is_some_and(|s| {
                    s["quorate"] == true
                        && s["members"].as_array().map(Vec::len) == Some(live.len())
                        && !s["dc"].is_null()
                        && st[0].as_ref().is_some_and(|f| s["dc"] == f["dc"])
                })
            });
            let idle = st.iter().flatten().any(|s| {
                s["is_dc"] == true && s["controller"]["join_complete"] == true && s["controller"]["idle"] == true
            });
            if agree && idle {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(LocalCrmError::Timeout {
                    what: format!("a settled cluster of {live:?}"),
                    within,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Live nodes where Dummy `rsc`'s state file exists (where it really runs; a
    /// powered-off or fenced node's file is left behind, as its disk would be).
    pub fn dummy_running(&self, rsc: &str) -> Vec<u32> {
        (1..=self.nodes())
            .filter(|&n| self.crmd_alive(n))
            .filter(|&n| self.rsctmp(n).join(format!("Dummy-{rsc}.state")).exists())
            .collect()
    }

    /// Whether node `n`'s CRM process runs: started, and neither gone nor a zombie
    /// (fencing kills it without this harness reaping it).
    pub fn crmd_alive(&self, n: u32) -> bool {
        let Some(pid) = self.crmd_pid(n) else { return false };
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // The state follows the parenthesised command name.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| !matches!(state, "Z" | "X"))
        })
    }

    /// kill -9 of node `n`'s ferrosyncd and CRM process.
    pub fn power_off(&mut self, n: u32) -> Result<(), LocalCrmError> {
        if let Some(c) = self.crmds[n as usize - 1].take() {
            kill_child(c);
        }
        self.cluster.kill(n)?;
        Ok(())
    }

    /// SIGTERM to node `n`'s CRM process (a clean shutdown).
    pub fn sigterm_crmd(&self, n: u32) -> Result<(), LocalCrmError> {
        let pid = self.crmd_pid(n).ok_or_else(|| LocalCrmError::Control {
            node: n,
            why: "no CRM process".into(),
        })?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .map_err(|e| LocalCrmError::Control {
            node: n,
            why: format!("SIGTERM: {e}"),
        })
    }

    /// Waits up to `within` for node `n`'s CRM process to exit; its exit status, or
    /// `None` if it was still running (then it is killed).
    pub fn wait_crmd_exit(
        &mut self,
        n: u32,
        within: Duration,
    ) -> Result<Option<std::process::ExitStatus>, LocalCrmError> {
        let Some(mut c) = self.crmds[n as usize - 1].take() else {
            return Ok(None);
        };
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Some(st) = c.try_wait().map_err(io("wait for ferrosync-crmd"))? {
                return Ok(Some(st));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kill_child(c);
        Ok(None)
    }

    /// The last lines of every node's CRM log, for failure messages (without the control
    /// socket's connect/disconnect lines: a test polling the daemons would fill the tail).
    pub fn logs(&self, lines: usize) -> String {
        let mut out = String::new();
        for n in 1..=self.nodes() {
            let mut text = std::fs::read_to_string(self.dir(n).join("crmd.log")).unwrap_or_default();
            text += &std::fs::read_to_string(self.dir(n).join("crmd.stderr")).unwrap_or_default();
            let tail: Vec<&str> = text
                .lines()
                .rev()
                .filter(|l| !l.contains("control client connected") && !l.contains("control client gone"))
                .take(lines)
                .collect();
            out += &format!("--- node{n} crmd.log (last lines)\n");
            for l in tail.iter().rev() {
                out += l;
                out.push('\n');
            }
        }
        out
    }

    /// The configuration that fences with the test agent (its device monitored every
    /// `fence_monitor`, e.g. `60s`) and runs one Dummy `rsc` of `agent` (provider,
    /// type; e.g. Pacemaker's) with a 10 s monitor, as a `cib` request.
    pub fn dummy_config(&self, rsc: &str, agent: (&str, &str), fence_monitor: &str) -> Value {
        let hosts: Vec<String> = (1..=self.nodes()).map(|n| format!("node{n}")).collect();
        let resources = format!(
            "<resources>\
<primitive id='fence' class='stonith' type='fence_ferrosync_test'><instance_attributes id='fence-ia'>\
<nvpair id='fence-sd' name='state_dir' value='{}'/><nvpair id='fence-hl' name='pcmk_host_list' value='{}'/>\
</instance_attributes><operations><op id='fence-monitor' name='monitor' interval='{fence_monitor}' timeout='20s'/></operations></primitive>\
<primitive id='{rsc}' class='ocf' provider='{}' type='{}'><operations>\
<op id='{rsc}-monitor-10s' name='monitor' interval='10s' timeout='20s'/></operations></primitive>\
</resources>",
            self.fence_dir.display(),
            hosts.join(" "),
            agent.0,
            agent.1,
        );
        json!({"request": "cib", "ops": [
            {"op": "replace", "section": "crm_config", "xml":
                "<crm_config><cluster_property_set id='cib-bootstrap-options'>\
        <nvpair id='o-stonith' name='stonith-enabled' value='true'/>\
        <nvpair id='o-nqp' name='no-quorum-policy' value='stop'/>\
        </cluster_property_set></crm_config>"},
            {"op": "replace", "section": "resources", "xml": resources},
        ]})
    }
}

/// Pacemaker's Dummy when installed, else ferrosync's own (`agents/Dummy`, written
/// into `dir` as an OCF root): the OCF root and the (provider, type).
pub fn dummy_agent(dir: &Path) -> std::io::Result<(PathBuf, (&'static str, &'static str))> {
    let system = Path::new("/usr/lib/ocf");
    if system.join("resource.d/pacemaker/Dummy").exists() {
        return Ok((system.to_path_buf(), ("pacemaker", "Dummy")));
    }
    let root = dir.join("ocf");
    let agent = root.join("resource.d/ferrosync/Dummy");
    std::fs::create_dir_all(agent.parent().expect("has a parent"))?;
    std::fs::write(&agent, include_str!("../agents/Dummy"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))?;
    Ok((root, ("ferrosync", "Dummy")))
}

/// Writes the test fence agent (`fence_ferrosync_test`) into `dir` and returns `dir`:
/// installed programs carry it inside, so that a demo needs no source tree.
pub fn fence_agent_dir(dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let agent = dir.join("fence_ferrosync_test");
    std::fs::write(&agent, include_str!("../../fencer/agents/fence_ferrosync_test"))?;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir.to_path_buf())
}
