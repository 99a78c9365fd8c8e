//! corosync.conf as corosync 3.1.7 reads it: syntax ([`parse`]), known keys ([`schema`]),
//! and the typed cluster configuration with corosync's defaults and derived timers.

pub mod parse;
pub mod schema;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use parse::Entry;

/// corosync's default `mcastport`.
pub const DEFAULT_PORT: u16 = 5405;
/// Where `ferrosync keygen` writes the key and the daemon looks for it by default.
pub const DEFAULT_KEYFILE: &str = "/etc/ferrosync/authkey";
/// corosync's key, used when ferrosync's own does not exist.
pub const COROSYNC_KEYFILE: &str = "/etc/corosync/authkey";
/// ferrosync's configuration, then corosync's where a corosync user keeps it.
pub const DEFAULT_CONFIGS: [&str; 2] = ["/etc/ferrosync/corosync.conf", "/etc/corosync/corosync.conf"];

/// The first of `candidates` that exists, else the first (whose absence the caller reports).
pub fn first_existing(candidates: &[&str]) -> PathBuf {
    let found = candidates.iter().find(|p| Path::new(p).exists());
    PathBuf::from(found.or(candidates.first()).copied().unwrap_or_default())
}
/// Links a node may have (`INTERFACE_MAX`).
pub const LINKS_MAX: usize = 8;

/// Why a configuration cannot be used. Every variant names the file and, where there is
/// one, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Syntax { file: String, line: usize, message: String },
    #[error("{file}:{line}: {key}: {message}")]
    Value {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Semantic { file: String, message: String },
}

/// The transport named in `totem.transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Udpu,
    Udp,
    Knet,
}

/// One `nodelist.node` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub nodeid: u32,
    pub name: Option<String>,
    /// `ringX_addr` for X = index, resolved with the link's port; `None` where not given.
    pub links: Vec<Option<SocketAddr>>,
    pub quorum_votes: u32,
    /// Line of the `node {` entry's first key, for messages.
    pub line: usize,
}

impl Node {
    /// The address of link 0, which every node has.
    pub fn ring0(&self) -> SocketAddr {
        self.links[0].expect("ring0_addr is checked at load")
    }
}

/// `system.sched_rr`: when the daemon runs at `SCHED_RR` real-time priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedRr {
    /// Always (corosync's default).
    Yes,
    /// Never.
    No,
    /// Except while the node's clients are busy and the loop runs on time (ferrosync's
    /// default; see `crate::scheduling`).
    Auto,
}

/// How the daemon is scheduled (`system.sched_rr`, `system.priority`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduling {
    pub sched_rr: SchedRr,
    /// The nice value at the normal policy (`priority: max` is -20, `min` 19); `None` keeps
    /// the one the daemon was started with.
    pub nice: Option<i32>,
}

/// The `logging {}` settings the daemon uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    pub to_stderr: bool,
    pub to_logfile: bool,
    pub logfile: Option<PathBuf>,
    pub to_syslog: bool,
    pub debug: bool,
    /// `syslog_facility` (default `daemon`).
    pub syslog_facility: SyslogFacility,
    /// Least severe priority sent to syslog (`syslog_priority`, default `info`).
    pub syslog_priority: Priority,
    /// Least severe priority written to the log file (`logfile_priority`, default `info`).
    pub logfile_priority: Priority,
    /// `fileline: on`: source file and line in every line.
    pub fileline: bool,
    /// `timestamp`: none, seconds, or microseconds (default: microseconds).
    pub timestamp: Timestamp,
    /// Subsystems with `logger_subsys { subsys: X; debug: on }`.
    pub debug_subsys: Vec<String>,
}

/// A syslog priority as corosync.conf names them (`err`, `warning`, `info`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Emerg,
    Alert,
    Crit,
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Priority {
    pub fn parse(word: &str) -> Option<Priority> {
        Some(match word {
            "emerg" => Priority::Emerg,
            "alert" => Priority::Alert,
            "crit" => Priority::Crit,
            "err" => Priority::Err,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "info" => Priority::Info,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }
}

/// `logging.timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamp {
    Off,
    Seconds,
    Hires,
}

/// A syslog facility code (`daemon` = 3, `local0`..`local7` = 16..23, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyslogFacility(pub u8);

impl SyslogFacility {
    pub fn parse(name: &str) -> Option<SyslogFacility> {
        let code = match name {
            "kern" => 0,
            "user" => 1,
            "mail" => 2,
            "daemon" => 3,
            "auth" => 4,
            "syslog" => 5,
            "lpr" => 6,
            "news" => 7,
            "uucp" => 8,
            "cron" => 9,
            "authpriv" => 10,
            "ftp" => 11,
            _ => {
                let n: u8 = name.strip_prefix("local")?.parse().ok()?;
                if n > 7 {
                    return None;
                }
                16 + n
            }
        };
        Some(SyslogFacility(code))
    }
}

/// A loaded, checked configuration.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub file: String,
    pub cluster_name: String,
    /// What the file asked for; the daemon speaks udpu whatever this says (and warns).
    pub transport: TransportKind,
    /// `mcastport` of link 0 (every node's address on link X carries link X's port).
    pub mcastport: u16,
    pub block_unlisted_ips: bool,
    pub crypto_cipher: String,
    pub crypto_hash: String,
    /// Every datagram sealed with AES-256-GCM (`crypto_cipher: aes256` plus any hash).
    pub crypto: bool,
    /// The shared key (`totem.keyfile`).
    pub keyfile: PathBuf,
    pub nodes: Vec<Node>,
    /// The effective protocol timers (token already includes the per-node coefficient).
    pub totem: totem::Config,
    /// `totem.token` as configured (or the default), before the coefficient.
    pub token_base: Duration,
    pub token_coefficient: Duration,
    pub token_retransmits_before_loss: u32,
    /// ferrosync's `token_batch_hold_us`: how long a node may keep the token while its
    /// clients fill the visit (see `token_batch`); zero never holds.
    pub token_batch_hold: Duration,
    pub state_dir: Option<PathBuf>,
    pub scheduling: Scheduling,
    pub logging: Logging,
    /// Every `key: value` of the file, for the key store.
    pub entries: Vec<Entry>,
    /// Unknown keys and sections, and settings the daemon does not act on.
    pub warnings: Vec<String>,
}

impl ClusterConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfError::Io {
            file: file.clone(),
            source,
        })?;
        Self::from_text(&file, &text)
    }

    /// Parses and checks `text`; `file` names it in messages.
    pub fn from_text(file: &str, text: &str) -> Result<Self, ConfError> {
        let entries = parse::parse(file, text)?;
        let mut warnings = Vec::new();
        let mut top_warned = std::collections::BTreeSet::new();
        for e in &entries {
            if !schema::known_section(&e.sections[0]) {
                if top_warned.insert(e.sections[0].clone()) {
                    warnings.push(format!(
                        "{file}:{}: unknown section {:?}, ignored",
                        e.line, e.sections[0]
                    ));
                }
                continue;
            }
            match schema::kind_of(&e.sections, &e.key) {
                None => warnings.push(format!(
                    "{file}:{}: unknown key {}.{}, ignored",
                    e.line,
                    e.sections.join("."),
                    e.key
                )),
                Some(kind) => schema::check(kind, &e.value).map_err(|message| ConfError::Value {
                    file: file.to_owned(),
                    line: e.line,
                    key: format!("{}.{}", e.sections.join("."), e.key),
                    message,
                })?,
            }
        }
        Builder {
            file,
            entries: &entries,
            warnings,
        }
        .build()
    }

    /// The node with this id.
    pub fn node(&self, nodeid: u32) -> Option<&Node> {
        self.nodes.iter().find(|n| n.nodeid == nodeid)
    }

    /// Finds the local node: the one entry whose ring0 address can be bound here. Loopback
    /// clusters (every 127.x address is local) must name the node explicitly.
    pub fn find_local_node(&self) -> Result<u32, String> {
        let local: Vec<u32> = self
            .nodes
            .iter()
            .filter(|n| std::net::UdpSocket::bind(SocketAddr::new(n.ring0().ip(), 0)).is_ok())
            .map(|n| n.nodeid)
            .collect();
        match local.as_slice() {
            [one] => Ok(*one),
            [] => Err("no nodelist ring0_addr is an address of this host".into()),
            many => Err(format!(
                "nodes {many:?} all have local addresses; choose one with --nodeid"
            )),
        }
    }
}

/// Turns checked entries into a [`ClusterConfig`].
struct Builder<'a> {
    file: &'a str,
    entries: &'a [Entry],
    warnings: Vec<String>,
}

impl Builder<'_> {
    /// The last value of `section.key` (top-level, unindexed), with its line.
    fn get(&self, section: &str, key: &str) -> Option<(&str, usize)> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.sections.len() == 1 && e.sections[0] == section && e.key == key)
            .map(|e| (e.value.as_str(), e.line))
    }

    /// The `subsys` of every `logging { logger_subsys { … debug: on } }` block.
    fn debug_subsystems(&self) -> Vec<String> {
        let in_subsys =
            |e: &&Entry| e.sections.len() == 2 && e.sections[0] == "logging" && e.sections[1] == "logger_subsys";
        let blocks: std::collections::BTreeSet<Option<usize>> =
            self.entries.iter().filter(in_subsys).map(|e| e.index).collect();
        let mut out = Vec::new();
        for block in blocks {
            let value = |key: &str| {
                self.entries
                    .iter()
                    .filter(in_subsys)
                    .filter(|e| e.index == block && e.key == key)
                    .map(|e| e.value.as_str())
                    .next_back()
            };
            if let (Some(subsys), Some("on" | "yes" | "trace")) = (value("subsys"), value("debug")) {
                out.push(subsys.to_owned());
            }
        }
        out
    }

    fn int(&self, section: &str, key: &str) -> Option<u64> {
        // Values were range-checked against the schema already.
        self.get(section, key).and_then(|(v, _)| v.parse().ok())
    }

    fn ms(&self, key: &str) -> Option<Duration> {
        self.int("totem", key).map(Duration::from_millis)
    }

    fn boolean(&self, section: &str, key: &str, default: bool) -> bool {
        self.get(section, key)
            .and_then(|(v, _)| schema::parse_bool(v))
            .unwrap_or(default)
    }

    fn semantic(&self, message: String) -> ConfError {
        ConfError::Semantic {
            file: self.file.to_owned(),
            message,
        }
    }

    fn value_err(&self, line: usize, key: &str, message: String) -> ConfError {
        ConfError::Value {
            file: self.file.to_owned(),
            line,
            key: key.to_owned(),
            message,
        }
    }

    fn build(mut self) -> Result<ClusterConfig, ConfError> {
        let transport = match self.get("totem", "transport").map(|(v, _)| v) {
            Some("udpu") => TransportKind::Udpu,
            Some("udp") => TransportKind::Udp,
            // corosync 3's default transport is knet.
            _ => TransportKind::Knet,
        };
        if transport != TransportKind::Udpu {
            self.warnings.push(format!(
                "{}: transport {:?} is not implemented; ferrosync speaks udpu",
                self.file,
                self.get("totem", "transport").map_or("knet", |(v, _)| v)
            ));
        }
        let ports = self.interface_ports()?;
        let mcastport = ports[0];
        let ip_version = self.get("totem", "ip_version").map_or("ipv6-4", |(v, _)| v).to_owned();
        let nodes = self.nodes(&ports, &ip_version)?;
        let (mut totem, token_base, token_coefficient, retransmits) = self.timers(nodes.len())?;
        // corosync 3: `secauth: on` means aes256 + sha256 unless crypto_cipher/crypto_hash
        // say otherwise; where they turn it off, we refuse rather than run in plaintext.
        let secauth = self.boolean("totem", "secauth", false);
        let (cipher_default, hash_default) = if secauth {
            ("aes256", "sha256")
        } else {
            ("none", "none")
        };
        let crypto_cipher = self
            .get("totem", "crypto_cipher")
            .map_or(cipher_default, |(v, _)| v)
            .to_owned();
        let crypto_hash = self
            .get("totem", "crypto_hash")
            .map_or(hash_default, |(v, _)| v)
            .to_owned();
        if secauth && (crypto_cipher == "none" || crypto_hash == "none") {
            return Err(self.semantic(
                "secauth: on, but crypto_cipher or crypto_hash is none: refusing to run without crypto".into(),
            ));
        }
        let crypto = match (crypto_cipher.as_str(), crypto_hash.as_str()) {
            ("none", "none") => false,
            ("aes256", h) if h != "none" => true,
            ("none", _) => {
                return Err(self.semantic(
                    "crypto_hash without crypto_cipher (authentication only) is not supported; use crypto_cipher: \
                     aes256"
                        .into(),
                ))
            }
            ("aes256", _) => return Err(self.semantic("crypto_cipher needs crypto_hash as well (e.g. sha256)".into())),
            (other, _) => {
                return Err(self.semantic(format!(
                    "crypto_cipher {other} is not supported; use aes256 (AES-256-GCM)"
                )))
            }
        };
        if crypto {
            // Keep sealed datagrams within the same MTU budget as plain ones.
            totem.frame_mtu -= transport::crypto::OVERHEAD;
        }
        let keyfile = self.get("totem", "keyfile").map_or_else(
            || first_existing(&[DEFAULT_KEYFILE, COROSYNC_KEYFILE]),
            |(v, _)| PathBuf::from(v),
        );
        let scheduling = self.scheduling()?;
        let logging = Logging {
            to_stderr: self.boolean("logging", "to_stderr", true),
            to_logfile: self.boolean("logging", "to_logfile", false),
            logfile: self.get("logging", "logfile").map(|(v, _)| PathBuf::from(v)),
            to_syslog: self.boolean("logging", "to_syslog", true),
            debug: matches!(
                self.get("logging", "debug").map(|(v, _)| v),
                Some("on" | "yes" | "trace")
            ),
            syslog_facility: match self.get("logging", "syslog_facility") {
                None => SyslogFacility(3),
                Some((v, line)) => SyslogFacility::parse(v).ok_or_else(|| {
                    self.value_err(
                        line,
                        "logging.syslog_facility",
                        format!("unknown facility {v:?} (daemon, local0..local7, user, …)"),
                    )
                })?,
            },
            syslog_priority: self
                .get("logging", "syslog_priority")
                .or_else(|| self.get("logging", "syslog_level"))
                .and_then(|(v, _)| Priority::parse(v))
                .unwrap_or(Priority::Info),
            logfile_priority: self
                .get("logging", "logfile_priority")
                .and_then(|(v, _)| Priority::parse(v))
                .unwrap_or(Priority::Info),
            fileline: self.boolean("logging", "fileline", false),
            timestamp: match self.get("logging", "timestamp").map(|(v, _)| v) {
                Some("off" | "no") => Timestamp::Off,
                Some("on" | "yes") => Timestamp::Seconds,
                _ => Timestamp::Hires,
            },
            debug_subsys: self.debug_subsystems(),
        };
        Ok(ClusterConfig {
            file: self.file.to_owned(),
            cluster_name: self.get("totem", "cluster_name").map_or("", |(v, _)| v).to_owned(),
            transport,
            mcastport,
            block_unlisted_ips: self.boolean("totem", "block_unlisted_ips", true),
            crypto_cipher,
            crypto_hash,
            crypto,
            keyfile,
            nodes,
            totem,
            token_base,
            token_coefficient,
            token_retransmits_before_loss: retransmits,
            token_batch_hold: self
                .int("totem", "token_batch_hold_us")
                .map_or(crate::token_batch::DEFAULT_HOLD, Duration::from_micros),
            state_dir: self.get("system", "state_dir").map(|(v, _)| PathBuf::from(v)),
            scheduling,
            logging,
            entries: self.entries.to_vec(),
            warnings: self.warnings,
        })
    }

    /// `system.sched_rr` and `system.priority` (corosync's words; `auto` is ferrosync's).
    fn scheduling(&mut self) -> Result<Scheduling, ConfError> {
        let sched_rr = match self.get("system", "sched_rr").map(|(v, _)| v) {
            Some("yes") => SchedRr::Yes,
            Some("no") => SchedRr::No,
            _ => SchedRr::Auto,
        };
        let nice = match self.get("system", "priority") {
            None => None,
            Some(("max", _)) => Some(-20),
            Some(("min", _)) => Some(19),
            Some((v, line)) => Some(
                v.parse::<i32>()
                    .ok()
                    .filter(|n| (-20..=19).contains(n))
                    .ok_or_else(|| {
                        self.value_err(
                            line,
                            "system.priority",
                            format!("{v:?} is not max, min or a nice value from -20 to 19"),
                        )
                    })?,
            ),
        };
        if sched_rr == SchedRr::Yes {
            if let Some((_, line)) = self.get("system", "priority") {
                // As corosync: the priority is for the normal policy only.
                self.warnings.push(format!(
                    "{}:{line}: system.priority is used only with sched_rr: no or auto, ignored",
                    self.file
                ));
            }
        }
        Ok(Scheduling { sched_rr, nice })
    }

    /// `mcastport` of each link (`interface { linknumber: X; mcastport: P }`), default 5405.
    fn interface_ports(&self) -> Result<[u16; LINKS_MAX], ConfError> {
        let mut ports = [DEFAULT_PORT; LINKS_MAX];
        let iface: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.sections == ["totem", "interface"])
            .collect();
        let indices: std::collections::BTreeSet<usize> = iface.iter().filter_map(|e| e.index).collect();
        for idx in indices {
            let of = |k: &str| iface.iter().rev().find(|e| e.index == Some(idx) && e.key == k);
            // Range-checked (0..=7) by the schema.
            let link = of("linknumber")
                .or(of("ringnumber"))
                .and_then(|e| e.value.parse::<usize>().ok())
                .unwrap_or(0);
            if let Some(e) = of("mcastport") {
                ports[link.min(LINKS_MAX - 1)] = e
                    .value
                    .parse()
                    .map_err(|_| self.value_err(e.line, "mcastport", "bad port".into()))?;
            }
        }
        Ok(ports)
    }

    fn nodes(&self, ports: &[u16; LINKS_MAX], ip_version: &str) -> Result<Vec<Node>, ConfError> {
        let node_entries: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.sections == ["nodelist", "node"])
            .collect();
        let indices: std::collections::BTreeSet<usize> = node_entries.iter().filter_map(|e| e.index).collect();
        let mut nodes: Vec<Node> = Vec::new();
        for idx in indices {
            let keys: Vec<&&Entry> = node_entries.iter().filter(|e| e.index == Some(idx)).collect();
            let first_line = keys.first().map_or(0, |e| e.line);
            let of = |k: &str| keys.iter().rev().find(|e| e.key == k);
            let mut links = vec![None; LINKS_MAX];
            for e in keys.iter().filter(|e| e.key.starts_with("ring")) {
                let link: usize = e.key[4..e.key.len() - 5].parse().unwrap_or(0);
                links[link] =
                    Some(resolve(&e.value, ports[link], ip_version).map_err(|m| self.value_err(e.line, &e.key, m))?);
            }
            while links.len() > 1 && links.last() == Some(&None) {
                links.pop();
            }
            if links[0].is_none() {
                return Err(ConfError::Syntax {
                    file: self.file.to_owned(),
                    line: first_line,
                    message: "node has no ring0_addr".into(),
                });
            }
            let nodeid = match of("nodeid") {
                Some(e) => e
                    .value
                    .parse()
                    .map_err(|_| self.value_err(e.line, "nodeid", "bad nodeid".into()))?,
                // corosync derives the id from an IPv4 ring0 address.
                None => match links[0].map(|a| a.ip()) {
                    Some(IpAddr::V4(v4)) => u32::from(v4) & 0x7fff_ffff,
                    _ => {
                        return Err(ConfError::Syntax {
                            file: self.file.to_owned(),
                            line: first_line,
                            message: "node has no nodeid (required for IPv6 addresses)".into(),
                        })
                    }
                },
            };
            let quorum_votes = of("quorum_votes").and_then(|e| e.value.parse().ok()).unwrap_or(1);
            if let Some(dup) = nodes.iter().find(|n| n.nodeid == nodeid) {
                return Err(ConfError::Syntax {
                    file: self.file.to_owned(),
                    line: first_line,
                    message: format!("nodeid {nodeid} is also used by the node at line {}", dup.line),
                });
            }
            if let Some(dup) = nodes.iter().find(|n| n.links[0] == links[0]) {
                return Err(ConfError::Syntax {
                    file: self.file.to_owned(),
                    line: first_line,
                    message: format!("ring0_addr is also used by the node at line {}", dup.line),
                });
            }
            nodes.push(Node {
                nodeid,
                name: of("name").map(|e| e.value.clone()),
                links,
                quorum_votes,
                line: first_line,
            });
        }
        if nodes.is_empty() {
            return Err(self.semantic("the nodelist is empty: udpu needs a nodelist { node { ... } }".into()));
        }
        if nodes.len() > totem::wire::PROCESSORS_MAX {
            return Err(self.semantic(format!("more than {} nodes", totem::wire::PROCESSORS_MAX)));
        }
        Ok(nodes)
    }

    /// corosync's timer derivation (`totemconfig.c`): the effective token adds
    /// `token_coefficient` per node beyond two; unset dependent timers follow it.
    fn timers(&self, node_count: usize) -> Result<(totem::Config, Duration, Duration, u32), ConfError> {
        let token_base = self
            .ms("token")
            .unwrap_or(Duration::from_millis(totem::config::TOKEN_MS));
        let coefficient = self
            .ms("token_coefficient")
            .unwrap_or(Duration::from_millis(totem::config::TOKEN_COEFFICIENT_MS));
        let retransmits = self
            .int("totem", "token_retransmits_before_loss_const")
            .map_or(totem::config::TOKEN_RETRANSMITS_BEFORE_LOSS, |v| v as u32);
        let extra = coefficient * node_count.saturating_sub(2) as u32;
        let mut c = totem::Config::from_token(token_base + extra, retransmits);
        if let Some(v) = self.ms("token_retransmit") {
            c.token_retransmit = v;
            if self.ms("hold").is_none() {
                c.hold = Duration::from_micros(((v.as_micros() as f64) * 0.8 - 10_000.0).max(1000.0) as u64);
            }
        }
        let set = |v: Option<Duration>, field: &mut Duration| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(self.ms("hold"), &mut c.hold);
        set(self.ms("join"), &mut c.join);
        set(self.ms("send_join"), &mut c.send_join);
        // ferrosync's own key: 0 waits for the consensus timeout as corosync does.
        set(self.ms("fail_silent_after"), &mut c.fail_silent_after);
        set(self.ms("consensus"), &mut c.consensus);
        set(self.ms("merge"), &mut c.merge);
        set(self.ms("downcheck"), &mut c.downcheck);
        let int = |k: &str, field: &mut u32| {
            if let Some(v) = self.int("totem", k) {
                *field = v as u32;
            }
        };
        int("fail_recv_const", &mut c.fail_recv_const);
        int("seqno_unchanged_const", &mut c.seqno_unchanged_const);
        // ferrosyncd's own defaults, larger than the protocol core's (see `DEFAULT_WINDOW`);
        // a file that sets only `window_size` keeps `max_messages` within it, as corosync's
        // smaller default always is.
        (c.max_messages, c.window_size) = DEFAULT_WINDOW;
        int("window_size", &mut c.window_size);
        c.max_messages = c.max_messages.min(c.window_size);
        int("max_messages", &mut c.max_messages);
        int("miss_count_const", &mut c.miss_count_const);
        if let Some(mtu) = self.int("totem", "netmtu") {
            c.frame_mtu = mtu as usize - 2 * totem::wire::MCAST_HEADER_LEN;
        }
        c.cancel_token_hold_on_retransmit = self.boolean("totem", "cancel_token_hold_on_retransmit", false);
        c.validate().map_err(|e| {
            let line = self
                .get("totem", e.field)
                .map(|(_, l)| l)
                .or_else(|| self.get("totem", "token").map(|(_, l)| l));
            match line {
                Some(line) => self.value_err(line, &format!("totem.{}", e.field), e.reason.clone()),
                None => self.semantic(e.to_string()),
            }
        })?;
        Ok((c, token_base, coefficient, retransmits))
    }
}

/// `max_messages` and `window_size` of ferrosyncd when corosync.conf sets neither: up to 512
/// frames per token visit and 1536 per rotation, where the protocol core (and the
/// simulator's default runs) keep corosync-like 64 and 200. With the token held while
/// clients fill a visit (`token_batch`), small messages no longer need large visits, but
/// bulk ones do: 16 KiB messages on 3 nodes went from ~1.3× corosync-knet's throughput to
/// ~2× (README, CPG table). The simulator sweeps this setting with `--window 512/1536`
/// (CI runs a share of it); with it a member that fell far behind once left RECOVERY no
/// room (seed 99006225), which the sort queue's half limit fixed.
pub const DEFAULT_WINDOW: (u32, u32) = (512, 1536);

/// An address or host name with `port`, preferring the family `ip_version` names first.
fn resolve(value: &str, port: u16, ip_version: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = (value, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {value:?}: {e}"))?
        .collect();
    let want_v6_first = ip_version.starts_with("ipv6");
    let pick = |v6: bool| addrs.iter().find(|a| a.is_ipv6() == v6).copied();
    let found = match ip_version {
        "ipv4" => pick(false),
        "ipv6" => pick(true),
        _ => pick(want_v6_first).or_else(|| pick(!want_v6_first)),
    };
    found.ok_or_else(|| format!("{value:?} has no {ip_version} address"))
}

#[cfg(test)]
mod tests;
