//! votequorum's options, read from the icmap keys the daemon loads from corosync.conf
//! (`votequorum_readconfig` in `exec/votequorum.c`), with corosync's configuration
//! errors. Values may be typed integers or the text the config loader stores.

use std::time::Duration;

use totem::NodeId;

use crate::icmap::{Icmap, Value};

/// `DEFAULT_LMS_WIN`.
pub const DEFAULT_LMS_WINDOW: Duration = Duration::from_millis(10_000);
/// `VOTEQUORUM_QDEVICE_DEFAULT_TIMEOUT`.
pub const DEFAULT_QDEVICE_TIMEOUT: Duration = Duration::from_millis(10_000);
/// `VOTEQUORUM_QDEVICE_DEFAULT_SYNC_TIMEOUT`.
pub const DEFAULT_QDEVICE_SYNC_TIMEOUT: Duration = Duration::from_millis(30_000);

/// A configuration corosync refuses to start with (its exact messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: nodelist or quorum.expected_votes must be configured!")]
    NoExpectedVotes,
    #[error("configuration error: two_node and quorum device cannot be configured at the same time!")]
    TwoNodeWithQdevice,
    #[error("configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster")]
    AtbLmsOddCluster,
    #[error("configuration error: quorum.device is not compatible with last_man_standing")]
    QdeviceWithLms,
    #[error("configuration error: quorum.device is not compatible with auto_tie_breaker")]
    QdeviceWithAtb,
    #[error("configuration error: quorum.device is not compatible with allow_downscale")]
    QdeviceWithAllowDownscale,
    #[error("configuration error: quorum.device.votes must be specified when quorum.expected_votes is set")]
    QdeviceVotesWithExpected,
    #[error("configuration error: quorum.device.votes must be specified when not all nodes votes 1")]
    QdeviceVotesUneven,
    #[error("configuration error: quorum.device.votes is too high or expected_votes is too low")]
    QdeviceVotesTooHigh,
    #[error("Invalid quorum provider")]
    InvalidProvider,
}

/// `auto_tie_breaker` and `auto_tie_breaker_node` (corosync's `ATB_*`; the number is
/// what `runtime.votequorum.atb_type` holds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TieBreaker {
    #[default]
    None,
    Lowest,
    Highest,
    List(Vec<NodeId>),
}

impl TieBreaker {
    pub fn code(&self) -> u32 {
        match self {
            TieBreaker::None => 0,
            TieBreaker::Lowest => 1,
            TieBreaker::Highest => 2,
            TieBreaker::List(_) => 3,
        }
    }

    /// `parse_atb_string`: `lowest`, `highest`, or node ids separated by spaces.
    pub fn parse(s: &str) -> TieBreaker {
        match s.trim() {
            "lowest" => TieBreaker::Lowest,
            "highest" => TieBreaker::Highest,
            list => {
                // strtol stops at the first thing that is not a number (or a zero).
                let ids: Vec<NodeId> = list
                    .split_whitespace()
                    .map_while(|w| w.parse::<NodeId>().ok().filter(|n| *n != 0))
                    .collect();
                if ids.is_empty() {
                    tracing::warn!(
                        "auto_tie_breaker_nodes is not valid. It must be 'lowest', 'highest' or a space-separated list of node IDs. auto_tie_breaker is disabled"
                    );
                    TieBreaker::None
                } else {
                    TieBreaker::List(ids)
                }
            }
        }
    }
}

/// The quorum device section (`quorum.device.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QdeviceConfig {
    /// `quorum.device.votes`; `None`: not given (computed from the nodelist).
    pub votes: Option<u32>,
    pub timeout: Duration,
    pub sync_timeout: Duration,
}

/// Reads an unsigned integer stored typed or as text.
pub fn get_u32(icmap: &Icmap, key: &str) -> Option<u32> {
    match icmap.get(key)? {
        Value::String(s) => s.trim().parse().ok(),
        v => v.as_u32(),
    }
}

/// Reads a flag (`0`/`1`, or `yes`/`no`, `on`/`off`, `true`/`false` as text).
pub fn get_flag(icmap: &Icmap, key: &str) -> Option<bool> {
    match icmap.get(key)? {
        Value::String(s) => match s.trim() {
            "yes" | "on" | "true" => Some(true),
            "no" | "off" | "false" => Some(false),
            n => n.parse::<u32>().ok().map(|v| v != 0),
        },
        v => v.as_u32().map(|v| v != 0),
    }
}

/// What the nodelist says (`votequorum_read_nodelist_configuration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodelistVotes {
    /// Our `quorum_votes` (1 if not given).
    pub votes: u32,
    pub nodes: u32,
    /// Sum of every node's `quorum_votes`.
    pub expected_votes: u32,
}

/// The nodelist's votes; `None` without a nodelist entry for us. Our entry is
/// `nodelist.local_node_pos` if the host set it, otherwise the one with our nodeid.
pub fn read_nodelist(icmap: &Icmap, us: NodeId) -> Option<NodelistVotes> {
    let mut positions: Vec<u32> = icmap
        .iter_prefix("nodelist.node.")
        .filter_map(|(k, _)| k["nodelist.node.".len()..].split('.').next()?.parse().ok())
        .collect();
    positions.dedup();
    let our_pos = get_u32(icmap, "nodelist.local_node_pos").or_else(|| {
        positions
            .iter()
            .copied()
            .find(|p| get_u32(icmap, &format!("nodelist.node.{p}.nodeid")) == Some(us))
    })?;
    let mut out = NodelistVotes {
        votes: 1,
        nodes: 0,
        expected_votes: 0,
    };
    for p in positions {
        let v = get_u32(icmap, &format!("nodelist.node.{p}.quorum_votes")).unwrap_or(1);
        out.nodes += 1;
        out.expected_votes = out.expected_votes.wrapping_add(v);
        if p == our_pos {
            out.votes = v;
        }
    }
    Some(out)
}

/// The options votequorum runs with, after corosync's checks and adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// This node's votes.
    pub votes: u32,
    /// This node's expected votes.
    pub expected_votes: u32,
    pub two_node: bool,
    pub wait_for_all: bool,
    /// wait_for_all was not set and follows two_node.
    pub wait_for_all_autoset: bool,
    pub last_man_standing: bool,
    pub last_man_standing_window: Duration,
    pub auto_tie_breaker: TieBreaker,
    /// The tie-breaker as configured, before an odd-sized cluster disabled it (a
    /// reload starts from it again).
    pub configured_tie_breaker: TieBreaker,
    pub allow_downscale: bool,
    pub expected_votes_tracking: bool,
    pub qdevice: Option<QdeviceConfig>,
    /// Votes of the quorum device slot.
    pub qdevice_votes: u32,
    /// False when the configuration forbids a device to register.
    pub qdevice_can_operate: bool,
}

impl Options {
    /// How long a registered device may go without polling (`quorum.device.timeout`).
    pub fn qdevice_timeout(&self) -> Duration {
        self.qdevice.map_or(DEFAULT_QDEVICE_TIMEOUT, |q| q.timeout)
    }

    /// How long synchronisation waits for the device's poll (`quorum.device.sync_timeout`).
    pub fn qdevice_sync_timeout(&self) -> Duration {
        self.qdevice.map_or(DEFAULT_QDEVICE_SYNC_TIMEOUT, |q| q.sync_timeout)
    }

    /// Reads the startup configuration. `ev_tracking_barrier`: the persisted
    /// expected-votes barrier (used when `expected_votes_tracking` is on).
    pub fn read(icmap: &Icmap, us: NodeId, ev_tracking_barrier: u32) -> Result<Options, ConfigError> {
        Options::build(icmap, us, ev_tracking_barrier, None)
    }

    /// Re-reads the configuration at runtime (`votequorum_readconfig(RUNTIME)`): only
    /// votes, expected votes, two_node (and the wait_for_all it implies) and the
    /// device's votes change; the other options keep their startup values. Device
    /// conflicts disable device operations instead of failing; an error means "keep
    /// the current runtime data". `qdevice_registered`: a device is registered here.
    pub fn reload(
        &self,
        icmap: &Icmap,
        us: NodeId,
        ev_tracking_barrier: u32,
        qdevice_registered: bool,
    ) -> Result<Options, ConfigError> {
        Options::build(icmap, us, ev_tracking_barrier, Some((self, qdevice_registered)))
    }

    fn build(
        icmap: &Icmap,
        us: NodeId,
        ev_tracking_barrier: u32,
        runtime: Option<(&Options, bool)>,
    ) -> Result<Options, ConfigError> {
        let expected_votes = get_u32(icmap, "quorum.expected_votes").unwrap_or(0);
        let nodelist = read_nodelist(icmap, us);
        let qdevice = icmap
            .get("quorum.device.model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(|_| QdeviceConfig {
                votes: get_u32(icmap, "quorum.device.votes"),
                timeout: get_u32(icmap, "quorum.device.timeout")
                    .map_or(DEFAULT_QDEVICE_TIMEOUT, |ms| Duration::from_millis(ms.into())),
                sync_timeout: get_u32(icmap, "quorum.device.sync_timeout")
                    .map_or(DEFAULT_QDEVICE_SYNC_TIMEOUT, |ms| Duration::from_millis(ms.into())),
            });
        let mut two_node = get_flag(icmap, "quorum.two_node").unwrap_or(false);
        // A configured device may operate; without one the previous verdict stays.
        let mut qdevice_can_operate = qdevice.is_some() || runtime.is_none_or(|(prev, _)| prev.qdevice_can_operate);

        if nodelist.is_none() && expected_votes == 0 {
            return Err(ConfigError::NoExpectedVotes);
        }
        // At startup a conflict is fatal; at runtime it disables the device.
        let mut conflict = |e: ConfigError| -> Result<(), ConfigError> {
            if runtime.is_none() {
                return Err(e);
            }
            tracing::error!("{e}; disabling quorum device operations");
            qdevice_can_operate = false;
            Ok(())
        };
        if two_node && qdevice.is_some() {
            match runtime {
                None => return Err(ConfigError::TwoNodeWithQdevice),
                Some((_, true)) => {
                    tracing::error!(
                        "{}; quorum device is registered, disabling two_node",
                        ConfigError::TwoNodeWithQdevice
                    );
                    two_node = false;
                }
                Some((_, false)) => conflict(ConfigError::TwoNodeWithQdevice)?,
            }
        }
        let (allow_downscale, wfa, last_man_standing, last_man_standing_window, ev_tracking, configured_tie_breaker) =
            match runtime {
                Some((prev, _)) => (
                    prev.allow_downscale,
                    (!prev.wait_for_all_autoset).then_some(prev.wait_for_all),
                    prev.last_man_standing,
                    prev.last_man_standing_window,
                    prev.expected_votes_tracking,
                    prev.configured_tie_breaker.clone(),
                ),
                None => {
                    let allow_downscale = get_flag(icmap, "quorum.allow_downscale").unwrap_or(false);
                    let atb = get_flag(icmap, "quorum.auto_tie_breaker").unwrap_or(false);
                    let atb_string = icmap.get("quorum.auto_tie_breaker_node").map(|v| match v {
                        Value::String(s) => s.clone(),
                        v => v.as_u32().map(|n| n.to_string()).unwrap_or_default(),
                    });
                    let tie_breaker = match (atb, atb_string) {
                        (false, Some(_)) => {
                            tracing::warn!("auto_tie_breaker_node: is meaningless if auto_tie_breaker is set to 0");
                            TieBreaker::None
                        }
                        (false, None) => TieBreaker::None,
                        (true, None) => TieBreaker::Lowest,
                        (true, Some(s)) => TieBreaker::parse(&s),
                    };
                    (
                        allow_downscale,
                        get_flag(icmap, "quorum.wait_for_all"),
                        get_flag(icmap, "quorum.last_man_standing").unwrap_or(false),
                        get_u32(icmap, "quorum.last_man_standing_window")
                            .map_or(DEFAULT_LMS_WINDOW, |ms| Duration::from_millis(ms.into())),
                        // allow_downscale requires expected_votes_tracking.
                        allow_downscale || get_flag(icmap, "quorum.expected_votes_tracking").unwrap_or(false),
                        tie_breaker,
                    )
                }
            };
        let mut auto_tie_breaker = configured_tie_breaker.clone();
        let wait_for_all_autoset = wfa.is_none();
        let wait_for_all = wfa.unwrap_or(two_node);

        if two_node && auto_tie_breaker != TieBreaker::None {
            tracing::error!("two_node and auto_tie_breaker are both specified but are not compatible; two_node has been disabled, please fix your corosync.conf");
            two_node = false;
        }
        let node_expected = nodelist.map_or(0, |n| n.expected_votes);
        if auto_tie_breaker != TieBreaker::None && node_expected % 2 == 1 && !wait_for_all {
            if last_man_standing {
                return Err(ConfigError::AtbLmsOddCluster);
            }
            tracing::error!("auto_tie_breaker is set and the cluster has an odd number of nodes; wait_for_all needs to be set for this configuration but it is missing, therefore auto_tie_breaker has been disabled");
            auto_tie_breaker = TieBreaker::None;
        }
        if qdevice.is_some() && last_man_standing {
            conflict(ConfigError::QdeviceWithLms)?;
        }
        if qdevice.is_some() && auto_tie_breaker != TieBreaker::None {
            conflict(ConfigError::QdeviceWithAtb)?;
        }
        if qdevice.is_some() && allow_downscale {
            conflict(ConfigError::QdeviceWithAllowDownscale)?;
        }
        let qdevice_votes_given = qdevice.and_then(|q| q.votes);
        if expected_votes != 0 && qdevice.is_some() && qdevice_votes_given.is_none() {
            conflict(ConfigError::QdeviceVotesWithExpected)?;
        }
        if let (Some(_), None, Some(n)) = (qdevice, qdevice_votes_given, nodelist) {
            if n.nodes != n.expected_votes {
                conflict(ConfigError::QdeviceVotesUneven)?;
            }
        }
        if let Some(qv) = qdevice_votes_given.filter(|v| *v > 0) {
            if expected_votes != 0 && i64::from(expected_votes) - i64::from(qv) < 2 {
                conflict(ConfigError::QdeviceVotesTooHigh)?;
            }
        }
        let mut node_expected_votes = node_expected;
        // Without the device: 0; votes given: those; otherwise computed or unchanged.
        let mut qdevice_votes = match (qdevice, qdevice_votes_given) {
            (None, _) => 0,
            (Some(_), Some(v)) => v,
            (Some(_), None) => runtime.map_or(0, |(prev, _)| prev.qdevice_votes),
        };
        if let (Some(_), None, 0, Some(n)) = (qdevice, qdevice_votes_given, expected_votes, nodelist) {
            if n.nodes == n.expected_votes {
                // Automatic device votes: one less than the nodes' votes.
                qdevice_votes = n.expected_votes.saturating_sub(1);
                node_expected_votes = n.expected_votes.wrapping_add(qdevice_votes);
            }
        }
        let expected_override = if ev_tracking {
            ev_tracking_barrier
        } else {
            expected_votes
        };
        let (votes, mut us_expected) = match nodelist {
            Some(n) => (n.votes, node_expected_votes),
            None => (get_u32(icmap, "quorum.votes").unwrap_or(1), 0),
        };
        if expected_override != 0 {
            us_expected = expected_override;
        }
        Ok(Options {
            votes,
            expected_votes: us_expected,
            two_node,
            wait_for_all,
            wait_for_all_autoset,
            last_man_standing,
            last_man_standing_window,
            auto_tie_breaker,
            configured_tie_breaker,
            allow_downscale,
            expected_votes_tracking: ev_tracking,
            qdevice,
            qdevice_votes,
            qdevice_can_operate,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A map with a nodelist of `votes.len()` nodes (ids 1..) and the given keys.
    pub(crate) fn map(votes: &[u32], keys: &[(&str, &str)]) -> Icmap {
        let mut m = Icmap::default();
        for (i, v) in votes.iter().enumerate() {
            m.set(format!("nodelist.node.{i}.nodeid"), Value::U32(i as u32 + 1));
            m.set(format!("nodelist.node.{i}.quorum_votes"), Value::String(v.to_string()));
        }
        for (k, v) in keys {
            m.set(*k, Value::String((*v).to_owned()));
        }
        m
    }

    #[test]
    fn expected_votes_from_nodelist_or_override() {
        let o = Options::read(&map(&[1, 2, 1], &[]), 2, 0).unwrap();
        assert_eq!((o.votes, o.expected_votes), (2, 4));
        let o = Options::read(&map(&[1, 1, 1], &[("quorum.expected_votes", "5")]), 1, 0).unwrap();
        assert_eq!((o.votes, o.expected_votes), (1, 5));
        let mut m = Icmap::default();
        m.set("quorum.expected_votes", Value::U32(3));
        m.set("quorum.votes", Value::U32(2));
        let o = Options::read(&m, 9, 0).unwrap();
        assert_eq!((o.votes, o.expected_votes), (2, 3));
        assert_eq!(
            Options::read(&Icmap::default(), 1, 0),
            Err(ConfigError::NoExpectedVotes)
        );
        // Not in the nodelist and no expected_votes.
        assert_eq!(
            Options::read(&map(&[1, 1], &[]), 7, 0),
            Err(ConfigError::NoExpectedVotes)
        );
    }

    #[test]
    fn two_node_implies_wait_for_all_unless_set() {
        let o = Options::read(&map(&[1, 1], &[("quorum.two_node", "1")]), 1, 0).unwrap();
        assert!(o.two_node && o.wait_for_all && o.wait_for_all_autoset);
        let o = Options::read(
            &map(&[1, 1], &[("quorum.two_node", "1"), ("quorum.wait_for_all", "0")]),
            1,
            0,
        )
        .unwrap();
        assert!(o.two_node && !o.wait_for_all);
    }

    #[test]
    fn corosync_config_errors() {
        let two_qdev = map(&[1, 1], &[("quorum.two_node", "1"), ("quorum.device.model", "net")]);
        assert_eq!(Options::read(&two_qdev, 1, 0), Err(ConfigError::TwoNodeWithQdevice));
        let lms_qdev = map(
            &[1, 1, 1],
            &[("quorum.last_man_standing", "1"), ("quorum.device.model", "net")],
        );
        assert_eq!(Options::read(&lms_qdev, 1, 0), Err(ConfigError::QdeviceWithLms));
        let atb_lms = map(
            &[1, 1, 1],
            &[("quorum.auto_tie_breaker", "1"), ("quorum.last_man_standing", "1")],
        );
        assert_eq!(Options::read(&atb_lms, 1, 0), Err(ConfigError::AtbLmsOddCluster));
        let uneven = map(&[1, 2, 1], &[("quorum.device.model", "net")]);
        assert_eq!(Options::read(&uneven, 1, 0), Err(ConfigError::QdeviceVotesUneven));
        let high = map(
            &[1, 1],
            &[
                ("quorum.expected_votes", "3"),
                ("quorum.device.model", "net"),
                ("quorum.device.votes", "2"),
            ],
        );
        assert_eq!(Options::read(&high, 1, 0), Err(ConfigError::QdeviceVotesTooHigh));
        let exp = map(
            &[1, 1],
            &[("quorum.expected_votes", "3"), ("quorum.device.model", "net")],
        );
        assert_eq!(Options::read(&exp, 1, 0), Err(ConfigError::QdeviceVotesWithExpected));
        let ad = map(
            &[1, 1],
            &[("quorum.allow_downscale", "1"), ("quorum.device.model", "net")],
        );
        assert_eq!(Options::read(&ad, 1, 0), Err(ConfigError::QdeviceWithAllowDownscale));
    }

    #[test]
    fn qdevice_votes_computed_from_nodelist() {
        let o = Options::read(&map(&[1, 1, 1], &[("quorum.device.model", "net")]), 1, 0).unwrap();
        assert_eq!((o.qdevice_votes, o.expected_votes), (2, 5));
    }

    #[test]
    fn runtime_conflicts_disable_the_device() {
        let start = Options::read(&map(&[1, 1, 1], &[("quorum.device.model", "net")]), 1, 0).unwrap();
        let m = map(&[1, 1, 1], &[("quorum.device.model", "net"), ("quorum.two_node", "1")]);
        let unregistered = start.reload(&m, 1, 0, false).unwrap();
        assert!(unregistered.two_node && !unregistered.qdevice_can_operate);
        let registered = start.reload(&m, 1, 0, true).unwrap();
        assert!(!registered.two_node && registered.qdevice_can_operate);
        // Startup-only options keep their startup values.
        let m = map(
            &[1, 1, 1],
            &[("quorum.device.model", "net"), ("quorum.last_man_standing", "1")],
        );
        let r = start.reload(&m, 1, 0, false).unwrap();
        assert!(!r.last_man_standing && r.qdevice_can_operate);
        assert_eq!(
            start.reload(&Icmap::default(), 1, 0, false),
            Err(ConfigError::NoExpectedVotes)
        );
    }

    #[test]
    fn tie_breaker_forms() {
        assert_eq!(TieBreaker::parse("lowest"), TieBreaker::Lowest);
        assert_eq!(TieBreaker::parse("highest"), TieBreaker::Highest);
        assert_eq!(TieBreaker::parse("3 1 2"), TieBreaker::List(vec![3, 1, 2]));
        assert_eq!(TieBreaker::parse("nonsense"), TieBreaker::None);
        // ATB in an odd cluster without wait_for_all is disabled; with it, kept.
        let o = Options::read(&map(&[1, 1, 1], &[("quorum.auto_tie_breaker", "1")]), 1, 0).unwrap();
        assert_eq!(o.auto_tie_breaker, TieBreaker::None);
        let o = Options::read(
            &map(
                &[1, 1, 1],
                &[("quorum.auto_tie_breaker", "1"), ("quorum.wait_for_all", "1")],
            ),
            1,
            0,
        )
        .unwrap();
        assert_eq!(o.auto_tie_breaker, TieBreaker::Lowest);
        let o = Options::read(
            &map(
                &[1, 1, 1, 1],
                &[
                    ("quorum.auto_tie_breaker", "1"),
                    ("quorum.auto_tie_breaker_node", "4 3"),
                ],
            ),
            1,
            0,
        )
        .unwrap();
        assert_eq!(o.auto_tie_breaker, TieBreaker::List(vec![4, 3]));
    }

    #[test]
    fn typed_and_text_values() {
        let mut m = Icmap::default();
        m.set("t.a", Value::U8(1));
        m.set("t.b", Value::String(" 12 ".into()));
        m.set("t.c", Value::String("yes".into()));
        m.set("t.d", Value::String("off".into()));
        assert_eq!(get_u32(&m, "t.a"), Some(1));
        assert_eq!(get_u32(&m, "t.b"), Some(12));
        assert_eq!(get_flag(&m, "t.c"), Some(true));
        assert_eq!(get_flag(&m, "t.d"), Some(false));
        assert_eq!(get_flag(&m, "t.b"), Some(true));
        assert_eq!(get_u32(&m, "t.zz"), None);
    }
}
