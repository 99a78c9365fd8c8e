//! An in-memory key store with corosync's cmap key names (`man cmap_keys`): the loaded
//! configuration (`totem.*`, `nodelist.node.N.*`, …), the values in use
//! (`runtime.config.totem.*`), membership (`runtime.members.N.*`) and counters
//! (`stats.srp.*`). The cmap service will serve it later; today the status file shows it.

use std::collections::BTreeMap;

use crate::conf::ClusterConfig;

/// A typed value, as cmap types them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    U8(u8),
    U32(u32),
    U64(u64),
    Str(String),
}

impl Value {
    /// cmap's type name, as `corosync-cmapctl` prints it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::U32(_) => "u32",
            Value::U64(_) => "u64",
            Value::Str(_) => "str",
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::U8(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::Str(v) => f.write_str(v),
        }
    }
}

/// Keys in name order, like `corosync-cmapctl` lists them.
#[derive(Clone, Debug, Default)]
pub struct KeyStore {
    keys: BTreeMap<String, Value>,
}

impl KeyStore {
    /// The configuration keys and `runtime.config.totem.*` for `conf`, with this node's position.
    pub fn from_config(conf: &ClusterConfig, local_nodeid: u32) -> Self {
        let mut ks = KeyStore::default();
        for e in &conf.entries {
            let key = match (e.sections.as_slice(), e.index) {
                ([s], _) => format!("{s}.{}", e.key),
                ([a, b], Some(i)) if a == "totem" && b == "interface" => format!("totem.interface.{i}.{}", e.key),
                ([a, b], Some(i)) => format!("{a}.{b}.{i}.{}", e.key),
                (path, _) => format!("{}.{}", path.join("."), e.key),
            };
            ks.set(key, Value::Str(e.value.clone()));
        }
        if let Some(pos) = conf.nodes.iter().position(|n| n.nodeid == local_nodeid) {
            ks.set("nodelist.local_node_pos".into(), Value::U32(pos as u32));
        }
        let t = &conf.totem;
        let ms = |d: std::time::Duration| Value::U32(d.as_millis() as u32);
        let rc = "runtime.config.totem.";
        let runtime = [
            ("token", ms(t.token)),
            ("token_retransmit", ms(t.token_retransmit)),
            ("hold", ms(t.hold)),
            (
                "token_retransmits_before_loss_const",
                Value::U32(conf.token_retransmits_before_loss),
            ),
            ("join", ms(t.join)),
            ("send_join", ms(t.send_join)),
            ("fail_silent_after", ms(t.fail_silent_after)),
            ("consensus", ms(t.consensus)),
            ("merge", ms(t.merge)),
            ("downcheck", ms(t.downcheck)),
            ("fail_recv_const", Value::U32(t.fail_recv_const)),
            ("seqno_unchanged_const", Value::U32(t.seqno_unchanged_const)),
            ("max_messages", Value::U32(t.max_messages)),
            ("window_size", Value::U32(t.window_size)),
            ("miss_count_const", Value::U32(t.miss_count_const)),
            ("max_network_delay", Value::U32(50)),
            ("token_warning", Value::U32(75)),
        ];
        for (k, v) in runtime {
            ks.set(format!("{rc}{k}"), v);
        }
        ks
    }

    pub fn set(&mut self, key: String, value: Value) {
        self.keys.insert(key, value);
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key)
    }

    /// Keys starting with `prefix`, in order.
    pub fn iter_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.keys
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.keys.iter()
    }

    /// Records a new regular membership: members get `status joined` (and a join count),
    /// nodes no longer in it get `status left`.
    pub fn update_members(&mut self, conf: &ClusterConfig, members: &[u32]) {
        let known: Vec<u32> = self
            .iter_prefix("runtime.members.")
            .filter_map(|(k, _)| k["runtime.members.".len()..].split('.').next()?.parse().ok())
            .collect();
        for id in known {
            if !members.contains(&id) {
                self.set(format!("runtime.members.{id}.status"), Value::Str("left".into()));
            }
        }
        for &id in members {
            let p = format!("runtime.members.{id}.");
            let was_joined = matches!(self.get(&format!("{p}status")), Some(Value::Str(s)) if s == "joined");
            if !was_joined {
                let count = match self.get(&format!("{p}join_count")) {
                    Some(Value::U32(c)) => c + 1,
                    _ => 1,
                };
                self.set(format!("{p}join_count"), Value::U32(count));
            }
            self.set(format!("{p}status"), Value::Str("joined".into()));
            self.set(format!("{p}config_version"), Value::U64(0));
            if let Some(node) = conf.node(id) {
                let ip: String = node
                    .links
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| a.map(|a| format!("r({i}) ip({}) ", a.ip())))
                    .collect();
                self.set(format!("{p}ip"), Value::Str(ip));
            }
        }
    }

    /// Mirrors the SRP counters to `stats.srp.*`.
    pub fn update_stats(&mut self, s: &totem::Stats, state: totem::MembState) {
        let counters = [
            ("orf_token_tx", s.orf_token_tx),
            ("orf_token_rx", s.orf_token_rx),
            ("memb_merge_detect_tx", s.memb_merge_detect_tx),
            ("memb_merge_detect_rx", s.memb_merge_detect_rx),
            ("memb_join_tx", s.memb_join_tx),
            ("memb_join_rx", s.memb_join_rx),
            ("mcast_tx", s.mcast_tx),
            ("mcast_retx", s.mcast_retx),
            ("mcast_rx", s.mcast_rx),
            ("memb_commit_token_tx", s.memb_commit_token_tx),
            ("memb_commit_token_rx", s.memb_commit_token_rx),
            ("token_hold_cancel_tx", s.token_hold_cancel_tx),
            ("token_hold_cancel_rx", s.token_hold_cancel_rx),
            ("operational_entered", s.operational_entered),
            ("operational_token_lost", s.operational_token_lost),
            ("gather_entered", s.gather_entered),
            ("gather_token_lost", s.gather_token_lost),
            ("commit_entered", s.commit_entered),
            ("commit_token_lost", s.commit_token_lost),
            ("recovery_entered", s.recovery_entered),
            ("recovery_token_lost", s.recovery_token_lost),
            ("consensus_timeouts", s.consensus_timeouts),
            ("rx_msg_dropped", s.rx_msg_dropped),
            ("continuous_gather", s.continuous_gather),
            // ferrosync's own: datagrams and frames that failed to decode (plaintext too),
            // and members failed early for silence.
            ("malformed_rx", s.malformed_rx),
            ("silent_failed", s.silent_failed),
        ];
        for (k, v) in counters {
            self.set(format!("stats.srp.{k}"), Value::U64(v));
        }
        self.set("stats.srp.firewall_enabled_or_nic_failure".into(), Value::U8(0));
        self.set("stats.srp.memb_state".into(), Value::U32(state as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> ClusterConfig {
        ClusterConfig::from_text("t", include_str!("../tests/data/capture.conf")).unwrap()
    }

    #[test]
    fn config_keys_use_cmap_names() {
        let c = conf();
        let ks = KeyStore::from_config(&c, 2);
        assert_eq!(ks.get("totem.cluster_name"), Some(&Value::Str("capture".into())));
        assert_eq!(
            ks.get("nodelist.node.1.ring0_addr"),
            Some(&Value::Str("10.202.0.2".into()))
        );
        assert_eq!(ks.get("nodelist.node.2.nodeid"), Some(&Value::Str("3".into())));
        assert_eq!(ks.get("nodelist.local_node_pos"), Some(&Value::U32(1)));
        assert_eq!(
            ks.get("quorum.provider"),
            Some(&Value::Str("corosync_votequorum".into()))
        );
        assert_eq!(ks.get("runtime.config.totem.token"), Some(&Value::U32(3650)));
        assert_eq!(ks.get("runtime.config.totem.consensus"), Some(&Value::U32(4380)));
        assert_eq!(ks.iter_prefix("nodelist.node.0.").count(), 3);
    }

    #[test]
    fn members_join_and_leave() {
        let c = conf();
        let mut ks = KeyStore::from_config(&c, 1);
        ks.update_members(&c, &[1, 2, 3]);
        assert_eq!(
            ks.get("runtime.members.2.ip"),
            Some(&Value::Str("r(0) ip(10.202.0.2) ".into()))
        );
        ks.update_members(&c, &[1, 2]);
        assert_eq!(ks.get("runtime.members.3.status"), Some(&Value::Str("left".into())));
        assert_eq!(ks.get("runtime.members.2.join_count"), Some(&Value::U32(1)));
        ks.update_members(&c, &[1, 2, 3]);
        assert_eq!(ks.get("runtime.members.3.status"), Some(&Value::Str("joined".into())));
        assert_eq!(ks.get("runtime.members.3.join_count"), Some(&Value::U32(2)));
        let stats = totem::Stats {
            orf_token_rx: 9,
            malformed_rx: 2,
            ..Default::default()
        };
        ks.update_stats(&stats, totem::MembState::Operational);
        assert_eq!(ks.get("stats.srp.orf_token_rx"), Some(&Value::U64(9)));
        assert_eq!(ks.get("stats.srp.malformed_rx"), Some(&Value::U64(2)));
        assert_eq!(ks.get("stats.srp.memb_state"), Some(&Value::U32(1)));
    }
}
