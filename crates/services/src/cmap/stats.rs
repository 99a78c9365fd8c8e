//! The statistics map cmap serves after `SET_CURRENT_MAP 1` (`exec/stats.c`): read-only
//! counters under `stats.*` that the node fills, and the write-only `stats.clear.*` keys.
//!
//! It is a separate [`Icmap`] so clients iterate, read and track it with the same code
//! as the main map. The node refreshes it (for example on every status tick) with
//! [`StatsMap::fill_srp`], [`StatsMap::set`] and the per-connection helpers; changes are
//! sent to stats trackers by [`crate::cmap::Cmap::notify_changes`]. Clear requests
//! clients write are collected for the node by [`StatsMap::take_clears`].

use crate::icmap::{Change, Icmap, Value};

/// What a client asked to reset by writing `stats.clear.<what>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsClear {
    Knet,
    Ipc,
    Totem,
    Schedmiss,
    All,
}

impl StatsClear {
    /// `stats_map_set`: the key must start with one of the clear names.
    fn from_key(key: &str) -> Option<StatsClear> {
        [
            ("stats.clear.knet", StatsClear::Knet),
            ("stats.clear.ipc", StatsClear::Ipc),
            ("stats.clear.totem", StatsClear::Totem),
            ("stats.clear.schedmiss", StatsClear::Schedmiss),
            ("stats.clear.all", StatsClear::All),
        ]
        .into_iter()
        .find(|(p, _)| key.starts_with(p))
        .map(|(_, c)| c)
    }
}

/// `stats.srp.*` keys and their types (`cs_srp_stats`), in corosync's order.
const SRP_U64: [&str; 24] = [
    "orf_token_tx",
    "orf_token_rx",
    "memb_merge_detect_tx",
    "memb_merge_detect_rx",
    "memb_join_tx",
    "memb_join_rx",
    "mcast_tx",
    "mcast_retx",
    "mcast_rx",
    "memb_commit_token_tx",
    "memb_commit_token_rx",
    "token_hold_cancel_tx",
    "token_hold_cancel_rx",
    "operational_entered",
    "operational_token_lost",
    "gather_entered",
    "gather_token_lost",
    "commit_entered",
    "commit_token_lost",
    "recovery_entered",
    "recovery_token_lost",
    "consensus_timeouts",
    "rx_msg_dropped",
    "time_since_token_last_received",
];
const SRP_U32: [&str; 5] = [
    "continuous_gather",
    "continuous_sendmsg_failures",
    "mtt_rx_token",
    "avg_token_workload",
    "avg_backlog_calc",
];

/// Counters of one IPC connection (`cs_ipcs_conn_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpcConnStats {
    pub queueing: i32,
    pub queued: u32,
    pub invalid_request: u64,
    pub overload: u64,
    pub sent: u32,
    pub procname: String,
    pub requests: u64,
    pub responses: u64,
    pub dispatched: u64,
    pub send_retries: u64,
    pub recv_retries: u64,
    pub flow_control: u32,
    pub flow_control_count: u64,
}

impl IpcConnStats {
    /// `stats.clear.ipc`: the counters back to zero, as corosync's `cs_ipcs_clear_stats`
    /// (libqb's clear-after-read and its own three); the name and the current state stay.
    pub fn clear_counters(&mut self) {
        *self = IpcConnStats {
            queueing: self.queueing,
            queued: self.queued,
            procname: std::mem::take(&mut self.procname),
            flow_control: self.flow_control,
            ..IpcConnStats::default()
        };
    }
}

/// One IPC connection as the stats keys name it: `stats.ipcs.service<S>.<pid>.<ptr>.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcConnKey {
    pub service: u16,
    pub pid: u32,
    /// Stands in for corosync's connection pointer (printed `%p`).
    pub conn: u64,
}

impl IpcConnKey {
    fn prefix(&self) -> String {
        format!(
            "stats.ipcs.service{}.{}.{:#x}.",
            self.service, self.pid as i32, self.conn
        )
    }
}

#[derive(Debug, Clone)]
pub struct StatsMap {
    map: Icmap,
    clears: Vec<StatsClear>,
}

impl Default for StatsMap {
    fn default() -> Self {
        StatsMap::new()
    }
}

impl StatsMap {
    /// The static part of corosync's stats map, all zero: `stats.pg.*`, `stats.srp.*`,
    /// `stats.ipcs.global.*`.
    pub fn new() -> StatsMap {
        let mut map = Icmap::default();
        map.set("stats.pg.msg_queue_avail", Value::U32(0));
        map.set("stats.pg.msg_reserved", Value::U32(0));
        for k in SRP_U64 {
            map.set(format!("stats.srp.{k}"), Value::U64(0));
        }
        for k in SRP_U32 {
            map.set(format!("stats.srp.{k}"), Value::U32(0));
        }
        map.set("stats.srp.firewall_enabled_or_nic_failure", Value::U8(0));
        map.set("stats.ipcs.global.active", Value::U64(0));
        map.set("stats.ipcs.global.closed", Value::U64(0));
        map.take_changes();
        StatsMap {
            map,
            clears: Vec::new(),
        }
    }

    pub fn map(&self) -> &Icmap {
        &self.map
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Sets any stats key (its type is the caller's: corosync's are in `exec/stats.c`).
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        self.map.set(key, value);
    }

    pub fn remove(&mut self, key: &str) {
        self.map.delete(key);
    }

    /// Copies totem's SRP counters into `stats.srp.*`.
    pub fn fill_srp(&mut self, s: &totem::Stats) {
        let u64s = [
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
            // ferrosync's own: datagrams and frames that failed to decode, and members
            // failed early for silence.
            ("malformed_rx", s.malformed_rx),
            ("silent_failed", s.silent_failed),
        ];
        for (k, v) in u64s {
            self.map.set(format!("stats.srp.{k}"), Value::U64(v));
        }
        let gather = u32::try_from(s.continuous_gather).unwrap_or(u32::MAX);
        self.map.set("stats.srp.continuous_gather", Value::U32(gather));
    }

    /// Adds or refreshes the keys of one IPC connection (`stats_ipcs_add_connection`).
    pub fn set_connection(&mut self, key: IpcConnKey, s: &IpcConnStats) {
        let p = key.prefix();
        let values = [
            ("queueing", Value::I32(s.queueing)),
            ("queued", Value::U32(s.queued)),
            ("invalid_request", Value::U64(s.invalid_request)),
            ("overload", Value::U64(s.overload)),
            ("sent", Value::U32(s.sent)),
            ("procname", Value::String(s.procname.clone())),
            ("requests", Value::U64(s.requests)),
            ("responses", Value::U64(s.responses)),
            ("dispatched", Value::U64(s.dispatched)),
            ("send_retries", Value::U64(s.send_retries)),
            ("recv_retries", Value::U64(s.recv_retries)),
            ("flow_control", Value::U32(s.flow_control)),
            ("flow_control_count", Value::U64(s.flow_control_count)),
        ];
        for (k, v) in values {
            self.map.set(format!("{p}{k}"), v);
        }
    }

    /// Removes the keys of a closed connection (`stats_ipcs_del_connection`).
    pub fn remove_connection(&mut self, key: IpcConnKey) {
        self.map.delete_prefix(&key.prefix());
    }

    /// `stats_map_is_key_ro`: everything but `stats.clear.*`.
    pub fn is_read_only(key: &str) -> bool {
        !key.starts_with("stats.clear.")
    }

    /// A client wrote a `stats.clear.*` key; `false`: not a clear key (NOT_SUPPORTED).
    pub fn request_clear(&mut self, key: &str) -> bool {
        match StatsClear::from_key(key) {
            Some(c) => {
                // Each kind once until the node takes them: repeated writes cannot grow it.
                if !self.clears.contains(&c) {
                    self.clears.push(c);
                }
                true
            }
            None => false,
        }
    }

    /// Clear requests since the last call: the node resets those counters.
    pub fn take_clears(&mut self) -> Vec<StatsClear> {
        std::mem::take(&mut self.clears)
    }

    pub(crate) fn take_changes(&mut self) -> Vec<Change> {
        self.map.take_changes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_keys_have_corosyncs_types() {
        let s = StatsMap::new();
        assert_eq!(s.get("stats.srp.orf_token_tx"), Some(&Value::U64(0)));
        assert_eq!(s.get("stats.srp.mtt_rx_token"), Some(&Value::U32(0)));
        assert_eq!(s.get("stats.srp.firewall_enabled_or_nic_failure"), Some(&Value::U8(0)));
        assert_eq!(s.get("stats.pg.msg_queue_avail"), Some(&Value::U32(0)));
        assert_eq!(s.map().iter_prefix("stats.srp.").count(), 30);
    }

    #[test]
    fn connections_and_clears() {
        let mut s = StatsMap::new();
        let k = IpcConnKey {
            service: 0,
            pid: 1234,
            conn: 0x55aa,
        };
        s.set_connection(
            k,
            &IpcConnStats {
                procname: "crmd".into(),
                ..Default::default()
            },
        );
        assert_eq!(
            s.get("stats.ipcs.service0.1234.0x55aa.procname"),
            Some(&Value::String("crmd".into()))
        );
        assert_eq!(s.map().iter_prefix("stats.ipcs.service0.").count(), 13);
        s.remove_connection(k);
        assert_eq!(s.map().iter_prefix("stats.ipcs.service0.").count(), 0);
        assert!(s.request_clear("stats.clear.all"));
        assert!(s.request_clear("stats.clear.ipc"));
        assert!(s.request_clear("stats.clear.all"), "again: accepted, kept once");
        assert!(!s.request_clear("stats.clear.nothing"));
        assert_eq!(s.take_clears(), vec![StatsClear::All, StatsClear::Ipc]);
        assert_eq!(s.take_clears(), vec![]);
        let mut c = IpcConnStats {
            procname: "crmd".into(),
            requests: 9,
            sent: 3,
            flow_control: 1,
            flow_control_count: 4,
            ..Default::default()
        };
        c.clear_counters();
        assert_eq!(
            c,
            IpcConnStats {
                procname: "crmd".into(),
                flow_control: 1,
                ..Default::default()
            }
        );
        assert!(StatsMap::is_read_only("stats.srp.mcast_tx"));
        assert!(!StatsMap::is_read_only("stats.clear.totem"));
    }
}
