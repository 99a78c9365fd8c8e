//! A cluster of real `ferrosyncd` processes on loopback, in a private temporary directory:
//! generated configs, start/kill/stop/continue by PID, and membership read from each
//! daemon's own status file with bounded waits. `ferrosync demo` and the process tests use
//! it. Dropping it kills every daemon it started (also when a test panics) and removes the
//! directory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What to start.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The `ferrosyncd` executable.
    pub daemon: PathBuf,
    pub nodes: u32,
    /// Node N gets address `<prefix>.N` (e.g. `[127, 0, 0]` → 127.0.0.1, .2, …).
    pub prefix: [u8; 3],
    pub port: u16,
    /// Base token timeout in ms (corosync adds 650 ms per node beyond two unless
    /// `token_coefficient` is set; this harness sets it to 0 so the token is exactly this).
    pub token_ms: u64,
    /// Extra environment for every daemon (e.g. the test fault hook).
    pub env: Vec<(String, String)>,
    /// Run node N in network namespace `<netns>N` (created and deleted by the harness, see
    /// [`crate::netns`]) instead of on loopback; `prefix` is then the namespaces' subnet.
    pub netns: Option<String>,
    /// Links per node (1..=8): link X of node N is `<prefix with third octet + X>.N`.
    pub links: u8,
    /// Seal datagrams with AES-256-GCM; every node gets the cluster key in `node<N>/authkey`
    /// (see [`LocalCluster::write_key`] to give one a different key).
    pub crypto: bool,
    /// Let the daemons lock memory and take real-time priority as they do by default (except
    /// while their clients are busy); off in tests.
    pub realtime: bool,
    /// More command-line arguments for every daemon (e.g. `-r`).
    pub args: Vec<String>,
}

impl Spec {
    /// A loopback cluster without faults.
    pub fn new(daemon: PathBuf, nodes: u32, prefix: [u8; 3], port: u16, token_ms: u64) -> Self {
        Spec {
            daemon,
            nodes,
            prefix,
            port,
            token_ms,
            env: Vec::new(),
            netns: None,
            links: 1,
            crypto: false,
            realtime: false,
            args: Vec::new(),
        }
    }
}

/// One daemon's view, from its status file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub node_id: u32,
    pub pid: u32,
    pub state: String,
    pub ring_id: String,
    pub ring_seq: u64,
    pub members: Vec<u32>,
}

/// Why the harness failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("node {0} is not running")]
    NotRunning(u32),
    #[error("timed out after {waited:?} waiting for {wanted}; last views: {views:?}")]
    Timeout {
        waited: Duration,
        wanted: String,
        views: Vec<Option<NodeView>>,
    },
    #[error("signal to node {node}: {source}")]
    Signal { node: u32, source: nix::Error },
    #[error("network namespaces: {0}")]
    Netns(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// Running daemons plus their directory.
pub struct LocalCluster {
    pub spec: Spec,
    pub dir: PathBuf,
    children: Vec<Option<Child>>,
    /// Leave the directory in place on drop (also set by `FERROSYNC_KEEP_TEST_DIR`).
    pub keep_dir: bool,
    /// Dropped after the daemons are killed (field order), which deletes the namespaces.
    topology: Option<crate::netns::Topology>,
}

impl LocalCluster {
    /// Writes the config and starts every node.
    pub fn start(spec: Spec) -> Result<Self, ClusterError> {
        let unique = format!(
            "ferrosync-{}-{}-{}",
            std::process::id(),
            spec.port,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let topology = match &spec.netns {
            Some(prefix) => Some(
                crate::netns::Topology::create(prefix, spec.nodes, spec.links, spec.prefix)
                    .map_err(ClusterError::Netns)?,
            ),
            None => None,
        };
        let dir = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let keep_dir = std::env::var_os("FERROSYNC_KEEP_TEST_DIR").is_some();
        let mut cluster = LocalCluster {
            children: (0..spec.nodes).map(|_| None).collect(),
            spec,
            dir,
            keep_dir,
            topology,
        };
        std::fs::write(cluster.config_path(), cluster.config_text(None)).map_err(io("write config"))?;
        if cluster.spec.crypto {
            let mut key = [0u8; 256];
            getrandom::getrandom(&mut key).map_err(|e| io("random key")(e.into()))?;
            std::fs::write(cluster.dir.join("authkey"), key).map_err(io("write key"))?;
        }
        for id in 1..=cluster.spec.nodes {
            cluster.start_node(id)?;
        }
        Ok(cluster)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("corosync.conf")
    }

    pub fn node_dir(&self, id: u32) -> PathBuf {
        self.dir.join(format!("node{id}"))
    }

    /// Node `id`'s address on link 0.
    pub fn addr(&self, id: u32) -> SocketAddr {
        self.link_addr(id, 0)
    }

    pub fn link_addr(&self, id: u32, link: u8) -> SocketAddr {
        let [a, b, c] = self.spec.prefix;
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(a, b, c.wrapping_add(link), id as u8)),
            self.spec.port,
        )
    }

    /// The config node `id` runs with: the shared one, or its own when it has its own key file.
    pub fn node_config_path(&self, id: u32) -> PathBuf {
        if self.spec.crypto {
            self.node_dir(id).join("corosync.conf")
        } else {
            self.config_path()
        }
    }

    /// Gives node `id` this key (takes effect at its next start).
    pub fn write_key(&self, id: u32, key: &[u8]) -> Result<(), ClusterError> {
        std::fs::create_dir_all(self.node_dir(id)).map_err(io("create node dir"))?;
        std::fs::write(self.node_dir(id).join("authkey"), key).map_err(io("write key"))
    }

    /// The corosync.conf of the nodes (with crypto, `keyfile` names one node's key).
    pub fn config_text(&self, keyfile: Option<&Path>) -> String {
        let crypto = match keyfile {
            Some(k) => format!(
                "crypto_cipher: aes256\n\tcrypto_hash: sha256\n\tkeyfile: {}",
                k.display()
            ),
            None => "crypto_cipher: none\n\tcrypto_hash: none".to_owned(),
        };
        let mut s = format!(
            "# generated by ferrosync's local cluster harness\ntotem {{\n\tversion: 2\n\tcluster_name: local\n\t\
             transport: udpu\n\t{crypto}\n\ttoken: {}\n\ttoken_coefficient: 0\n\t\
             interface {{\n\t\tlinknumber: 0\n\t\tmcastport: {}\n\t}}\n}}\nlogging {{\n\tto_stderr: yes\n\t\
             to_syslog: no\n}}\nquorum {{\n\tprovider: corosync_votequorum\n}}\nnodelist {{\n",
            self.spec.token_ms, self.spec.port
        );
        for id in 1..=self.spec.nodes {
            s += &format!("\tnode {{\n\t\tname: node{id}\n\t\tnodeid: {id}\n");
            for link in 0..self.spec.links {
                s += &format!("\t\tring{link}_addr: {}\n", self.link_addr(id, link).ip());
            }
            s += "\t}\n";
        }
        s + "}\n"
    }

    /// Starts (or restarts) node `id`; its stderr goes to `node<id>/ferrosyncd.log`.
    pub fn start_node(&mut self, id: u32) -> Result<u32, ClusterError> {
        let dir = self.node_dir(id);
        std::fs::create_dir_all(&dir).map_err(io("create node dir"))?;
        // A stale status file from a previous run must not be mistaken for the new one.
        let _ = std::fs::remove_file(crate::status::path(&dir));
        if self.spec.crypto {
            let key = dir.join("authkey");
            if !key.exists() {
                std::fs::copy(self.dir.join("authkey"), &key).map_err(io("copy key"))?;
            }
            std::fs::write(self.node_config_path(id), self.config_text(Some(&key))).map_err(io("write config"))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ferrosyncd.log"))
            .map_err(io("open log"))?;
        let mut command = match &self.topology {
            Some(t) => {
                // `ip netns exec` execs the daemon, so the child's PID is the daemon's.
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &t.ns(id)]).arg(&self.spec.daemon);
                c
            }
            // Abstract IPC names are per network namespace: daemons sharing the host's
            // would clash with each other (and with a corosync running there).
            None => {
                let mut c = Command::new(&self.spec.daemon);
                c.arg("--no-ipc");
                c
            }
        };
        if !self.spec.realtime {
            // Tests share the machine with their own harness: no real-time daemons.
            command.arg("--no-realtime").arg("--no-mlockall");
        }
        let child = command
            .arg("-f")
            .arg("-c")
            .arg(self.node_config_path(id))
            .arg("--nodeid")
            .arg(id.to_string())
            .arg("--statedir")
            .arg(&dir)
            .arg("-p")
            .arg(dir.join("ferrosyncd.pid"))
            .args(&self.spec.args)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("start {}", self.spec.daemon.display())))?;
        let pid = child.id();
        self.children[id as usize - 1] = Some(child);
        Ok(pid)
    }

    /// The network namespace node `id` runs in (panics without namespaces).
    pub fn netns_name(&self, id: u32) -> String {
        self.topology
            .as_ref()
            .expect("this cluster runs without network namespaces")
            .ns(id)
    }

    pub fn pid(&self, id: u32) -> Option<u32> {
        self.children.get(id as usize - 1)?.as_ref().map(Child::id)
    }

    /// Sends `signal` to node `id` by PID.
    pub fn signal(&self, id: u32, signal: Signal) -> Result<(), ClusterError> {
        let pid = self.pid(id).ok_or(ClusterError::NotRunning(id))?;
        kill(Pid::from_raw(pid as i32), signal).map_err(|source| ClusterError::Signal { node: id, source })
    }

    /// Node `id`'s scheduling policy, field 41 of `/proc/PID/stat` (0 = `SCHED_OTHER`,
    /// 2 = `SCHED_RR`).
    pub fn scheduling_policy(&self, id: u32) -> Result<u32, ClusterError> {
        let pid = self.pid(id).ok_or(ClusterError::NotRunning(id))?;
        let path = format!("/proc/{pid}/stat");
        let stat = std::fs::read_to_string(&path).map_err(io(format!("read {path}")))?;
        // After the command name in parentheses (which may hold spaces) comes field 3.
        stat.rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(38)?.parse().ok())
            .ok_or_else(|| io(format!("parse {path}"))(std::io::ErrorKind::InvalidData.into()))
    }

    /// `kill -9` node `id` and reap it.
    pub fn kill(&mut self, id: u32) -> Result<(), ClusterError> {
        let mut child = self.children[id as usize - 1]
            .take()
            .ok_or(ClusterError::NotRunning(id))?;
        child.kill().map_err(io("kill"))?;
        child.wait().map_err(io("wait"))?;
        Ok(())
    }

    /// Waits up to `timeout` for node `id` to exit by itself (after SIGTERM); true if it did.
    pub fn wait_exit(&mut self, id: u32, timeout: Duration) -> Result<bool, ClusterError> {
        let end = Instant::now() + timeout;
        let slot = &mut self.children[id as usize - 1];
        let child = slot.as_mut().ok_or(ClusterError::NotRunning(id))?;
        while Instant::now() < end {
            if child.try_wait().map_err(io("wait"))?.is_some() {
                *slot = None;
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(false)
    }

    /// Cuts nodes `side` off from the rest (network namespaces only).
    pub fn partition(&self, side: &[u32]) -> Result<(), ClusterError> {
        self.topology
            .as_ref()
            .ok_or_else(|| ClusterError::Netns("not a namespace cluster".into()))?
            .partition(side)
            .map_err(ClusterError::Netns)
    }

    /// Cuts (`up == false`) or restores every node's link `link` (network namespaces only).
    pub fn set_link(&self, link: u8, up: bool) -> Result<(), ClusterError> {
        self.topology
            .as_ref()
            .ok_or_else(|| ClusterError::Netns("not a namespace cluster".into()))?
            .set_link(link, up)
            .map_err(ClusterError::Netns)
    }

    /// Undoes [`LocalCluster::partition`].
    pub fn heal(&self) -> Result<(), ClusterError> {
        self.topology
            .as_ref()
            .ok_or_else(|| ClusterError::Netns("not a namespace cluster".into()))?
            .heal()
            .map_err(ClusterError::Netns)
    }

    /// Node `id`'s own view, if it has written one.
    pub fn view(&self, id: u32) -> Option<NodeView> {
        read_view(&self.node_dir(id))
    }

    /// Waits until every node of `members` reports OPERATIONAL on one ring made of exactly
    /// `members`; returns that view and the time waited.
    pub fn wait_for_ring(&self, members: &[u32], timeout: Duration) -> Result<(NodeView, Duration), ClusterError> {
        let start = Instant::now();
        loop {
            let views: Vec<Option<NodeView>> = members.iter().map(|&id| self.view(id)).collect();
            let agreed = views.iter().all(|v| {
                v.as_ref().is_some_and(|v| {
                    v.state == "OPERATIONAL"
                        && v.members == members
                        && Some(&v.ring_id) == views[0].as_ref().map(|f| &f.ring_id)
                })
            });
            if agreed {
                return Ok((views[0].clone().expect("checked"), start.elapsed()));
            }
            if start.elapsed() >= timeout {
                return Err(ClusterError::Timeout {
                    waited: timeout,
                    wanted: format!("one ring of {members:?}"),
                    views,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills every running daemon (by PID) and reaps it.
    pub fn stop_all(&mut self) {
        for slot in &mut self.children {
            if let Some(mut child) = slot.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop_all();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Parses a node's status file; `None` if missing or unreadable (e.g. mid-start).
pub fn read_view(state_dir: &Path) -> Option<NodeView> {
    let v = crate::status::read(state_dir).ok()?;
    Some(NodeView {
        node_id: v["node_id"].as_u64()? as u32,
        pid: v["pid"].as_u64()? as u32,
        state: v["state"].as_str()?.to_owned(),
        ring_id: v["ring_id"]["text"].as_str()?.to_owned(),
        ring_seq: v["ring_id"]["seq"].as_u64()?,
        members: v["members"]
            .as_array()?
            .iter()
            .filter_map(|m| m.as_u64().map(|m| m as u32))
            .collect(),
    })
}
