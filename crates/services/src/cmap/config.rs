//! Building the map from corosync.conf as corosync 3.1.7 does (`exec/coroparse.c`,
//! `exec/main.c`, `exec/totemconfig.c`): typed configuration keys, the read-only
//! flags, `runtime.config.totem.*`, `nodelist.local_node_pos` and `runtime.members.*`.
//!
//! The daemon's parser hands over [`ConfEntry`] values (section path, index of a
//! repeated section, key, string value); this module knows nothing of files.

use std::collections::BTreeMap;
use std::net::IpAddr;

use totem::NodeId;

use crate::icmap::{valid_key, Icmap, Value};

/// One `key: value` line of corosync.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfEntry {
    /// Section names from the top, e.g. `["nodelist", "node"]`.
    pub sections: Vec<String>,
    /// The index of the innermost repeated section (`node`, `interface`,
    /// `logger_subsys`), counted from 0 in file order.
    pub index: Option<usize>,
    pub key: String,
    pub value: String,
}

/// Which kind of name a `uidgid` entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    User,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("value of {key} must be {ty}, not {value:?}")]
    Value {
        key: String,
        value: String,
        ty: &'static str,
    },
    #[error("invalid key name {0:?}")]
    Key(String),
    #[error("uidgid: unknown {kind:?} {name:?}")]
    UnknownId { kind: IdKind, name: String },
    #[error("uidgid: only uid and gid are allowed items, not {0:?}")]
    UidGidItem(String),
    #[error("no subsys key in logger_subsys directive")]
    NoSubsys,
}

/// The type coroparse gives a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    U8,
    U16,
    U32,
    I32,
    U64,
    Str,
}

/// coroparse's typed keys outside repeated sections.
fn key_type(path: &str) -> Ty {
    const TOTEM_U32: [&str; 30] = [
        "version",
        "nodeid",
        "threads",
        "token",
        "token_coefficient",
        "token_retransmit",
        "token_warning",
        "hold",
        "token_retransmits_before_loss_const",
        "join",
        "send_join",
        "consensus",
        "merge",
        "downcheck",
        "fail_recv_const",
        "seqno_unchanged_const",
        "rrp_token_expired_timeout",
        "rrp_problem_count_timeout",
        "rrp_problem_count_threshold",
        "rrp_problem_count_mcast_threshold",
        "rrp_autorecovery_check_timeout",
        "heartbeat_failures_allowed",
        "max_network_delay",
        "window_size",
        "max_messages",
        "miss_count_const",
        "knet_pmtud_interval",
        "knet_mtu",
        "knet_compression_threshold",
        "netmtu",
    ];
    if let Some(k) = path.strip_prefix("totem.") {
        if TOTEM_U32.contains(&k) {
            return Ty::U32;
        }
        return match k {
            "knet_compression_level" => Ty::I32,
            "config_version" => Ty::U64,
            _ => Ty::Str,
        };
    }
    match path {
        "quorum.expected_votes"
        | "quorum.votes"
        | "quorum.last_man_standing_window"
        | "quorum.leaving_timeout"
        | "quorum.device.timeout"
        | "quorum.device.sync_timeout"
        | "quorum.device.votes"
        | "resources.watchdog_timeout"
        | "pload.count"
        | "pload.size" => Ty::U32,
        "quorum.two_node"
        | "quorum.expected_votes_tracking"
        | "quorum.allow_downscale"
        | "quorum.wait_for_all"
        | "quorum.auto_tie_breaker"
        | "quorum.last_man_standing"
        | "quorum.device.master_wins" => Ty::U8,
        "resources.system.poll_period"
        | "resources.system.memory_used.poll_period"
        | "resources.process.poll_period"
        | "resources.process.memory_used.poll_period" => Ty::U64,
        _ => Ty::Str,
    }
}

/// Types inside `totem { interface { … } }` (stored as `totem.interface.<link>.<key>`).
fn interface_type(key: &str) -> Ty {
    match key {
        "mcastport" => Ty::U16,
        "ttl" | "knet_link_priority" => Ty::U8,
        "knet_ping_interval" | "knet_ping_timeout" | "knet_ping_precision" | "knet_pong_count" => Ty::U32,
        _ => Ty::Str,
    }
}

/// `safe_atoq` / `str_to_ull`: a decimal number in the type's range.
fn typed(key: &str, value: &str, ty: Ty) -> Result<Value, ConfigError> {
    let err = |ty| ConfigError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        ty,
    };
    let v = value.trim();
    Ok(match ty {
        Ty::U8 => Value::U8(v.parse().map_err(|_| err("a u8"))?),
        Ty::U16 => Value::U16(v.parse().map_err(|_| err("a u16"))?),
        Ty::U32 => Value::U32(v.parse().map_err(|_| err("a u32"))?),
        Ty::I32 => Value::I32(v.parse().map_err(|_| err("an i32"))?),
        Ty::U64 => Value::U64(v.parse().map_err(|_| err("a u64"))?),
        Ty::Str => Value::String(value.to_owned()),
    })
}

fn put(map: &mut Icmap, key: String, value: Value) -> Result<(), ConfigError> {
    if !valid_key(&key) {
        return Err(ConfigError::Key(key));
    }
    map.set(key, value);
    Ok(())
}

/// Builds the map of a configuration, typed as coroparse types it, with corosync's
/// read-only flags. `resolve` turns user and group names of `uidgid` sections into ids
/// (numbers are taken as they are).
pub fn load(entries: &[ConfEntry], resolve: impl Fn(IdKind, &str) -> Option<u32>) -> Result<Icmap, ConfigError> {
    let mut map = Icmap::default();
    // Repeated sections are keyed by their index.
    let mut interfaces: BTreeMap<usize, Vec<&ConfEntry>> = BTreeMap::new();
    let mut subsystems: BTreeMap<usize, Vec<&ConfEntry>> = BTreeMap::new();
    for e in entries {
        let path: Vec<&str> = e.sections.iter().map(String::as_str).collect();
        match path.as_slice() {
            ["totem", "interface"] => interfaces.entry(e.index.unwrap_or(0)).or_default().push(e),
            ["logging", "logger_subsys"] => subsystems.entry(e.index.unwrap_or(0)).or_default().push(e),
            ["nodelist", "node"] => {
                let key = format!("nodelist.node.{}.{}", e.index.unwrap_or(0), e.key);
                let ty = if e.key == "nodeid" || e.key == "quorum_votes" {
                    Ty::U32
                } else {
                    Ty::Str
                };
                let v = typed(&key, &e.value, ty)?;
                put(&mut map, key, v)?;
            }
            ["uidgid"] => {
                let kind = match e.key.as_str() {
                    "uid" => IdKind::User,
                    "gid" => IdKind::Group,
                    other => return Err(ConfigError::UidGidItem(other.to_owned())),
                };
                let id = e
                    .value
                    .trim()
                    .parse()
                    .ok()
                    .or_else(|| resolve(kind, &e.value))
                    .ok_or_else(|| ConfigError::UnknownId {
                        kind,
                        name: e.value.clone(),
                    })?;
                put(&mut map, format!("uidgid.config.{}.{id}", e.key), Value::U8(1))?;
            }
            _ => {
                let key = format!("{}.{}", e.sections.join("."), e.key);
                let v = typed(&key, &e.value, key_type(&key))?;
                put(&mut map, key, v)?;
            }
        }
    }
    for group in interfaces.values() {
        let link = match group.iter().rev().find(|e| e.key == "linknumber") {
            Some(e) => match typed("totem.interface.linknumber", &e.value, Ty::U8)? {
                Value::U8(l) => l,
                _ => 0,
            },
            None => 0,
        };
        for e in group.iter().filter(|e| e.key != "linknumber") {
            let key = format!("totem.interface.{link}.{}", e.key);
            let v = typed(&key, &e.value, interface_type(&e.key))?;
            put(&mut map, key, v)?;
        }
    }
    for group in subsystems.values() {
        let subsys = group
            .iter()
            .rev()
            .find(|e| e.key == "subsys")
            .ok_or(ConfigError::NoSubsys)?
            .value
            .clone();
        for e in group.iter() {
            let key = format!("logging.logger_subsys.{subsys}.{}", e.key);
            put(&mut map, key, Value::String(e.value.clone()))?;
        }
    }
    set_read_only_flags(&mut map);
    map.take_changes();
    Ok(map)
}

/// The keys clients may not change (`exec/main.c set_icmap_ro_keys_flag`).
pub fn set_read_only_flags(map: &mut Icmap) {
    for p in [
        "internal_configuration.",
        "runtime.services.",
        "runtime.config.",
        "runtime.totem.",
        "uidgid.config.",
        "system.",
        "nodelist.",
    ] {
        map.set_read_only(p);
    }
    for k in [
        "totem.crypto_cipher",
        "totem.crypto_hash",
        "totem.crypto_model",
        "totem.keyfile",
        "totem.key",
        "totem.secauth",
        "totem.ip_version",
        "totem.rrp_mode",
        "totem.transport",
        "totem.cluster_name",
        "totem.netmtu",
        "totem.threads",
        "totem.version",
        "totem.nodeid",
        "totem.clear_node_high_bit",
        "config.reload_in_progress",
        "config.totemconfig_reload_in_progress",
    ] {
        map.set_read_only_key(k);
    }
}

/// `nodelist.local_node_pos`: the index of this node in the nodelist, if it is there.
pub fn set_local_node_pos(map: &mut Icmap, local: NodeId) -> Option<u32> {
    let pos = nodelist(map).into_iter().find(|(_, id)| *id == local)?.0;
    map.set("nodelist.local_node_pos", Value::U32(pos));
    Some(pos)
}

/// `(N, nodeid)` of every `nodelist.node.N.nodeid`.
pub fn nodelist(map: &Icmap) -> Vec<(u32, NodeId)> {
    map.iter_prefix("nodelist.node.")
        .filter_map(|(k, v)| {
            let n = k
                .strip_prefix("nodelist.node.")?
                .strip_suffix(".nodeid")?
                .parse()
                .ok()?;
            Some((n, v.as_u32()?))
        })
        .collect()
}

/// The configured addresses of `node` by link (`nodelist.node.N.ringX_addr`), for the
/// entries that are IP literals (names are not resolved here).
pub fn node_addresses(map: &Icmap, node: NodeId) -> Vec<(u8, IpAddr)> {
    let Some((n, _)) = nodelist(map).into_iter().find(|(_, id)| *id == node) else {
        return Vec::new();
    };
    let prefix = format!("nodelist.node.{n}.ring");
    let mut out: Vec<(u8, IpAddr)> = map
        .iter_prefix(&prefix)
        .filter_map(|(k, v)| {
            let link = k.strip_prefix(&prefix)?.strip_suffix("_addr")?.parse().ok()?;
            Some((link, v.as_str()?.trim().parse().ok()?))
        })
        .collect();
    out.sort_by_key(|(l, _)| *l);
    out
}

/// The values totem runs with (`runtime.config.totem.*`, set by totemconfig.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeTotem {
    pub token: u32,
    pub token_retransmit: u32,
    pub hold: u32,
    pub token_retransmits_before_loss_const: u32,
    pub join: u32,
    pub send_join: u32,
    pub consensus: u32,
    pub merge: u32,
    pub downcheck: u32,
    pub fail_recv_const: u32,
    pub seqno_unchanged_const: u32,
    pub heartbeat_failures_allowed: u32,
    pub max_network_delay: u32,
    pub window_size: u32,
    pub max_messages: u32,
    pub miss_count_const: u32,
    pub token_warning: u32,
    pub knet_pmtud_interval: u32,
    pub knet_mtu: u32,
    pub knet_compression_threshold: u32,
    pub knet_compression_model: String,
    pub block_unlisted_ips: bool,
    pub cancel_token_hold_on_retransmit: bool,
}

/// Writes `runtime.config.totem.*` (u32 values, the model as a string, the two
/// booleans as u8).
pub fn set_runtime_totem(map: &mut Icmap, t: &RuntimeTotem) {
    let u32s = [
        ("token", t.token),
        ("token_retransmit", t.token_retransmit),
        ("hold", t.hold),
        (
            "token_retransmits_before_loss_const",
            t.token_retransmits_before_loss_const,
        ),
        ("join", t.join),
        ("send_join", t.send_join),
        ("consensus", t.consensus),
        ("merge", t.merge),
        ("downcheck", t.downcheck),
        ("fail_recv_const", t.fail_recv_const),
        ("seqno_unchanged_const", t.seqno_unchanged_const),
        ("heartbeat_failures_allowed", t.heartbeat_failures_allowed),
        ("max_network_delay", t.max_network_delay),
        ("window_size", t.window_size),
        ("max_messages", t.max_messages),
        ("miss_count_const", t.miss_count_const),
        ("token_warning", t.token_warning),
        ("knet_pmtud_interval", t.knet_pmtud_interval),
        ("knet_mtu", t.knet_mtu),
        ("knet_compression_threshold", t.knet_compression_threshold),
    ];
    for (k, v) in u32s {
        map.set(format!("runtime.config.totem.{k}"), Value::U32(v));
    }
    map.set(
        "runtime.config.totem.knet_compression_model",
        Value::String(t.knet_compression_model.clone()),
    );
    map.set(
        "runtime.config.totem.block_unlisted_ips",
        Value::U8(t.block_unlisted_ips.into()),
    );
    map.set(
        "runtime.config.totem.cancel_token_hold_on_retransmit",
        Value::U8(t.cancel_token_hold_on_retransmit.into()),
    );
}

/// Key prefixes a reload replaces: keys under them that the new file lacks are deleted
/// (`remove_deleted_entries` calls of `message_handler_req_exec_cfg_reload_config`).
const RELOADED_PREFIXES: [&str; 6] = [
    "logging.",
    "totem.",
    "nodelist.",
    "quorum.",
    "uidgid.config.",
    "nozzle.",
];

/// Keys a reload may not change (`remove_ro_entries`; udpu has no crypto reconfiguration).
const FIXED_AT_RUNTIME: [&str; 25] = [
    "totem.secauth",
    "totem.crypto_hash",
    "totem.crypto_cipher",
    "totem.keyfile",
    "totem.key",
    "totem.version",
    "totem.threads",
    "totem.ip_version",
    "totem.rrp_mode",
    "totem.netmtu",
    "totem.interface.ringnumber",
    "totem.interface.bindnetaddr",
    "totem.interface.mcastaddr",
    "totem.interface.broadcast",
    "totem.interface.mcastport",
    "totem.interface.ttl",
    "totem.transport",
    "totem.cluster_name",
    "quorum.provider",
    "system.move_to_root_cgroup",
    "system.allow_knet_handle_fallback",
    "system.sched_rr",
    "system.priority",
    "system.qb_ipc_type",
    "system.state_dir",
];

/// Applies a re-read configuration to the live map as cfg's RELOAD_CONFIG does: sets
/// `config.reload_in_progress`, deletes keys the file no longer has (under the
/// configuration prefixes), keeps keys that cannot change at run time (returned, for
/// the "cannot be changed at run-time" notice), copies the new values in (trackers
/// see every change), restores `nodelist.local_node_pos` for `local`, and records
/// `config.reload_status` (CS_OK) before clearing the in-progress flags.
pub fn apply_reload(live: &mut Icmap, mut new: Icmap, local: NodeId) -> Vec<String> {
    live.set("config.totemconfig_reload_in_progress", Value::U8(1));
    live.set("config.reload_in_progress", Value::U8(1));
    for prefix in RELOADED_PREFIXES {
        let gone: Vec<String> = live
            .iter_prefix(prefix)
            .filter(|(k, _)| new.get(k).is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            live.delete(&k);
        }
    }
    let mut refused = Vec::new();
    for key in FIXED_AT_RUNTIME {
        if new.get(key).is_some() && new.get(key) != live.get(key) {
            new.delete(key);
            refused.push(key.to_owned());
        }
    }
    for (k, v) in new.iter() {
        live.set(k.clone(), v.clone());
    }
    set_local_node_pos(live, local);
    live.set("config.reload_status", Value::I32(crate::CsError::Ok as i32));
    live.set("config.totemconfig_reload_in_progress", Value::U8(0));
    live.set("config.reload_in_progress", Value::U8(0));
    refused
}

/// `totem_ifaces_print`: `r(0) ip(10.0.0.1) r(1) ip(…) `.
fn ifaces_print(addrs: &[(u8, IpAddr)]) -> String {
    addrs
        .iter()
        .enumerate()
        .map(|(i, (_, a))| format!("r({i}) ip({a}) "))
        .collect()
}

/// A configuration change as `exec/main.c confchg_fn` records it: left nodes get
/// `status left`; joined nodes `ip`, `join_count` (1, then incremented on every
/// rejoin) and `status joined`. Addresses come from the nodelist.
pub fn update_members(map: &mut Icmap, left: &[NodeId], joined: &[NodeId]) {
    for id in left {
        map.set(format!("runtime.members.{id}.status"), Value::String("left".into()));
    }
    for &id in joined {
        let p = format!("runtime.members.{id}.");
        if map.get(&format!("{p}ip")).is_some() {
            let count = map.u32(&format!("{p}join_count")).unwrap_or(0).wrapping_add(1);
            map.set(format!("{p}join_count"), Value::U32(count));
        } else {
            let ip = ifaces_print(&node_addresses(map, id));
            map.set(format!("{p}ip"), Value::String(ip));
            map.set(format!("{p}join_count"), Value::U32(1));
        }
        map.set(format!("{p}status"), Value::String("joined".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(sections: &[&str], index: Option<usize>, key: &str, value: &str) -> ConfEntry {
        ConfEntry {
            sections: sections.iter().map(|s| s.to_string()).collect(),
            index,
            key: key.into(),
            value: value.into(),
        }
    }

    fn sample() -> Vec<ConfEntry> {
        vec![
            e(&["totem"], None, "version", "2"),
            e(&["totem"], None, "cluster_name", "capture"),
            e(&["totem"], None, "token", "3000"),
            e(&["totem"], None, "config_version", "12"),
            e(&["totem"], None, "transport", "udpu"),
            e(&["totem", "interface"], Some(0), "linknumber", "1"),
            e(&["totem", "interface"], Some(0), "mcastport", "5405"),
            e(&["totem", "interface"], Some(0), "ttl", "1"),
            e(&["nodelist", "node"], Some(0), "ring0_addr", "10.0.0.1"),
            e(&["nodelist", "node"], Some(0), "nodeid", "1"),
            e(&["nodelist", "node"], Some(0), "name", "n1"),
            e(&["nodelist", "node"], Some(1), "ring0_addr", "10.0.0.2"),
            e(&["nodelist", "node"], Some(1), "ring1_addr", "fd00::2"),
            e(&["nodelist", "node"], Some(1), "nodeid", "2"),
            e(&["quorum"], None, "provider", "corosync_votequorum"),
            e(&["quorum"], None, "two_node", "1"),
            e(&["quorum"], None, "expected_votes", "2"),
            e(&["logging"], None, "to_syslog", "yes"),
            e(&["logging", "logger_subsys"], Some(0), "subsys", "QUORUM"),
            e(&["logging", "logger_subsys"], Some(0), "debug", "on"),
            e(&["uidgid"], None, "uid", "hacluster"),
            e(&["uidgid"], None, "gid", "189"),
        ]
    }

    fn load_sample() -> Icmap {
        load(&sample(), |k, n| (k == IdKind::User && n == "hacluster").then_some(189)).unwrap()
    }

    #[test]
    fn keys_are_typed_as_coroparse_types_them() {
        let m = load_sample();
        assert_eq!(m.get("totem.version"), Some(&Value::U32(2)));
        assert_eq!(m.get("totem.token"), Some(&Value::U32(3000)));
        assert_eq!(m.get("totem.config_version"), Some(&Value::U64(12)));
        assert_eq!(m.get("totem.cluster_name"), Some(&Value::String("capture".into())));
        assert_eq!(m.get("totem.interface.1.mcastport"), Some(&Value::U16(5405)));
        assert_eq!(m.get("totem.interface.1.ttl"), Some(&Value::U8(1)));
        assert_eq!(m.get("nodelist.node.0.nodeid"), Some(&Value::U32(1)));
        assert_eq!(m.get("nodelist.node.0.name"), Some(&Value::String("n1".into())));
        assert_eq!(m.get("quorum.two_node"), Some(&Value::U8(1)));
        assert_eq!(m.get("quorum.expected_votes"), Some(&Value::U32(2)));
        assert_eq!(
            m.get("quorum.provider"),
            Some(&Value::String("corosync_votequorum".into()))
        );
        assert_eq!(m.get("logging.to_syslog"), Some(&Value::String("yes".into())));
        assert_eq!(
            m.get("logging.logger_subsys.QUORUM.debug"),
            Some(&Value::String("on".into()))
        );
        assert_eq!(m.get("uidgid.config.uid.189"), Some(&Value::U8(1)));
        assert_eq!(m.get("uidgid.config.gid.189"), Some(&Value::U8(1)));
    }

    #[test]
    fn read_only_flags_follow_main_c() {
        let m = load_sample();
        assert!(m.is_read_only("nodelist.node.0.nodeid"));
        assert!(m.is_read_only("totem.cluster_name"));
        assert!(m.is_read_only("totem.key"));
        assert!(!m.is_read_only("totem.keyx"));
        assert!(!m.is_read_only("totem.token"));
        assert!(m.is_read_only("runtime.config.totem.token"));
        assert!(!m.is_read_only("uidgid.gid.189"));
    }

    #[test]
    fn bad_numbers_are_errors() {
        let bad = [e(&["nodelist", "node"], Some(0), "nodeid", "-1")];
        assert!(matches!(load(&bad, |_, _| None), Err(ConfigError::Value { .. })));
        let bad = [e(&["quorum"], None, "two_node", "256")];
        assert!(load(&bad, |_, _| None).is_err());
        let bad = [e(&["uidgid"], None, "uid", "nobody-here")];
        assert!(matches!(load(&bad, |_, _| None), Err(ConfigError::UnknownId { .. })));
        let bad = [e(&["logging", "logger_subsys"], Some(0), "debug", "on")];
        assert_eq!(load(&bad, |_, _| None).unwrap_err(), ConfigError::NoSubsys);
    }

    #[test]
    fn reload_replaces_config_keys_but_not_fixed_ones() {
        let mut live = load_sample();
        set_local_node_pos(&mut live, 2);
        live.set("runtime.members.1.status", Value::String("joined".into()));
        live.take_changes();
        let mut entries = sample();
        entries.retain(|e| e.key != "two_node" && e.key != "name");
        for e in &mut entries {
            match e.key.as_str() {
                "token" => e.value = "5000".into(),
                "cluster_name" => e.value = "renamed".into(),
                _ => {}
            }
        }
        let new = load(&entries, |_, _| Some(189)).unwrap();
        let refused = apply_reload(&mut live, new, 2);
        assert_eq!(refused, ["totem.cluster_name"]);
        assert_eq!(live.get("totem.token"), Some(&Value::U32(5000)));
        assert_eq!(live.string("totem.cluster_name"), Some("capture"));
        assert!(live.get("quorum.two_node").is_none());
        assert!(live.get("nodelist.node.0.name").is_none());
        assert_eq!(live.u32("nodelist.local_node_pos"), Some(1));
        assert_eq!(live.string("runtime.members.1.status"), Some("joined"));
        assert_eq!(live.get("config.reload_in_progress"), Some(&Value::U8(0)));
        assert_eq!(live.get("config.reload_status"), Some(&Value::I32(1)));
        let changes = live.take_changes();
        assert!(changes
            .iter()
            .any(|c| c.key == "totem.token" && c.old == Some(Value::U32(3000))));
        assert!(changes
            .iter()
            .any(|c| c.key == "config.reload_in_progress" && c.new == Some(Value::U8(1))));
    }

    #[test]
    fn local_pos_addresses_and_members() {
        let mut m = load_sample();
        assert_eq!(set_local_node_pos(&mut m, 2), Some(1));
        assert_eq!(m.get("nodelist.local_node_pos"), Some(&Value::U32(1)));
        assert_eq!(
            node_addresses(&m, 2),
            vec![(0, "10.0.0.2".parse().unwrap()), (1, "fd00::2".parse().unwrap())]
        );
        update_members(&mut m, &[], &[1, 2]);
        assert_eq!(
            m.get("runtime.members.2.ip"),
            Some(&Value::String("r(0) ip(10.0.0.2) r(1) ip(fd00::2) ".into()))
        );
        update_members(&mut m, &[2], &[]);
        assert_eq!(m.string("runtime.members.2.status"), Some("left"));
        update_members(&mut m, &[], &[2]);
        assert_eq!(m.u32("runtime.members.2.join_count"), Some(2));
        assert_eq!(m.string("runtime.members.2.status"), Some("joined"));
    }
}
