//! Protocol timers and constants, with corosync 3.1.7's defaults and derivations
//! (`exec/totemconfig.c`).

use std::time::Duration;

/// Tunables of one Totem instance. Build with [`Config::for_nodelist`] (which applies
/// corosync's per-node token coefficient), adjust fields, then [`Config::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Token loss timeout: no token for this long → form a new configuration.
    pub token: Duration,
    /// Resend the last token after this long without seeing the next one.
    pub token_retransmit: Duration,
    /// How long the idle representative holds the token.
    pub hold: Duration,
    /// Interval between join messages in GATHER.
    pub join: Duration,
    /// Upper bound of a random delay before each join is sent (0: none), to spread
    /// join storms on large rings.
    pub send_join: Duration,
    /// Time to reach consensus in GATHER before non-responders are declared failed.
    pub consensus: Duration,
    /// In GATHER, a member of our last ring that sent no join for this long in this round
    /// (and for at least two join intervals with their `send_join` delays, so that one
    /// lost join costs nothing), while every other node agrees with us, is declared failed
    /// without waiting for `consensus` (zero: wait, as corosync does) — but only once it
    /// has also been silent (no datagram of any kind, no token it forwarded) for the
    /// token timeout plus two join intervals, so a node heard recently is never given up
    /// on early. This is what makes failover take token + this instead of token +
    /// consensus.
    pub fail_silent_after: Duration,
    /// Merge-detect interval of an idle ring's representative.
    pub merge: Duration,
    /// Interval of the downcheck timer (kept for configuration compatibility).
    pub downcheck: Duration,
    /// Rotations with aru stuck at this node before it declares itself failed.
    pub fail_recv_const: u32,
    /// Rotations with no new message before the token is held.
    pub seqno_unchanged_const: u32,
    /// Most new messages one node sends per token visit. Default 64, not corosync's 17:
    /// one visit's frames then leave as one segmented send per peer (UDP GSO), and fewer
    /// rotations per message roughly double CPG throughput for 1–16 KiB messages (see the
    /// README's CPG table). A corosync.conf value is honoured as corosync honours it.
    /// Bulk senders gain more from larger visits: ferrosyncd's own default is 512 with a
    /// window of 1536 (`engine::conf::DEFAULT_WINDOW`; 16 KiB messages 1.5× faster on 3
    /// nodes), which the simulator sweeps with `--window 512/1536`.
    pub max_messages: u32,
    /// Most messages sent per token rotation on the whole ring. Default 200, not
    /// corosync's 50, to go with `max_messages`. In a ring mixed with corosync nodes their
    /// own window applies to their sends: under heavy load from ferrosync nodes they may
    /// send less per rotation than on a pure corosync ring (ordering is unaffected).
    pub window_size: u32,
    /// Token visits a message must be missing before it is requested again.
    pub miss_count_const: u32,
    /// Largest totem mcast payload (a totempg frame), in bytes.
    pub frame_mtu: usize,
    /// Bound of the queue of frames waiting for the token.
    pub send_queue_max: usize,
    /// Forward a held token at once when it carries retransmit requests.
    pub cancel_token_hold_on_retransmit: bool,
    /// Most agreed deliveries waiting for the host to poll them. Beyond it delivery
    /// pauses (the messages wait in the sort queue, and the ring's window closes once
    /// they are the oldest) instead of any being dropped.
    pub delivery_backlog_max: usize,
    /// A deliberate protocol bug, for tests that prove the simulator's checkers can fail.
    /// Always `None` outside those tests.
    #[doc(hidden)]
    pub planted_bug: Option<PlantedBug>,
}

/// Protocol bugs a test can plant (see [`Config::planted_bug`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// The failure detector before issue 13: a member silent in GATHER for
    /// `fail_silent_after` is failed however recently it was heard.
    EagerSilence,
    /// Agreed delivery steps over a missing message instead of waiting for it.
    SkipGap,
    /// The old ring's last messages are delivered after the new regular configuration
    /// instead of before it (in the old and the transitional configurations).
    SwapTransitional,
    /// RECOVERY re-sends no old-ring message to the members that lack it.
    DropRecoveryResends,
}

/// corosync's `token` default, in ms.
pub const TOKEN_MS: u64 = 3000;
/// corosync's `token_coefficient` default, in ms.
pub const TOKEN_COEFFICIENT_MS: u64 = 650;
/// corosync's `token_retransmits_before_loss_const` default.
pub const TOKEN_RETRANSMITS_BEFORE_LOSS: u32 = 4;
/// Stock udpu frame budget: netmtu 1500 − 2·45 (see totem-wire §2).
pub const FRAME_MTU_DEFAULT: usize = 1410;

/// A configuration value that cannot work, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("totem.{field}: {reason}")]
pub struct ConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl Default for Config {
    fn default() -> Self {
        Self::from_token(Duration::from_millis(TOKEN_MS), TOKEN_RETRANSMITS_BEFORE_LOSS)
    }
}

impl Config {
    /// Defaults for a nodelist of `nodes` entries: token = 3000 ms + 650 ms per node beyond 2.
    pub fn for_nodelist(nodes: usize) -> Self {
        Self::with_token(Duration::from_millis(TOKEN_MS), nodes, TOKEN_COEFFICIENT_MS)
    }

    /// Derives everything from a configured base `token` as corosync does.
    pub fn with_token(token: Duration, nodes: usize, coefficient_ms: u64) -> Self {
        let extra = nodes.saturating_sub(2) as u64 * coefficient_ms;
        Self::from_token(token + Duration::from_millis(extra), TOKEN_RETRANSMITS_BEFORE_LOSS)
    }

    /// Derives the dependent timers from the effective token timeout.
    pub fn from_token(token: Duration, retransmits_before_loss: u32) -> Self {
        let token_ms = token.as_millis() as f64;
        let retransmit_ms = token_ms / (f64::from(retransmits_before_loss) + 0.2);
        let hold_ms = (retransmit_ms * 0.8 - 10.0).max(1.0);
        Config {
            token,
            token_retransmit: Duration::from_micros((retransmit_ms * 1000.0) as u64),
            hold: Duration::from_micros((hold_ms * 1000.0) as u64),
            join: Duration::from_millis(50),
            send_join: Duration::ZERO,
            consensus: Duration::from_micros((token_ms * 1200.0) as u64),
            fail_silent_after: Duration::from_millis(200),
            merge: Duration::from_millis(200),
            downcheck: Duration::from_millis(1000),
            fail_recv_const: 2500,
            seqno_unchanged_const: 30,
            max_messages: 64,
            window_size: 200,
            miss_count_const: 5,
            frame_mtu: FRAME_MTU_DEFAULT,
            send_queue_max: 4096,
            cancel_token_hold_on_retransmit: false,
            delivery_backlog_max: 1 << 16,
            planted_bug: None,
        }
    }

    /// Checks the relations corosync enforces; the error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let min = Duration::from_millis(30);
        let below_min = |value: Duration| format!("{value:?} is below the 30 ms minimum");
        let at_least_one = || "must be at least 1".to_string();
        // (broken, field, why): the first broken rule is reported.
        let rules: [(bool, &'static str, String); 13] = [
            (self.token < min, "token", below_min(self.token)),
            (self.join < min, "join", below_min(self.join)),
            (self.consensus < min, "consensus", below_min(self.consensus)),
            (self.merge < min, "merge", below_min(self.merge)),
            (
                self.token_retransmit.is_zero() || self.token_retransmit >= self.token,
                "token_retransmit",
                "must be positive and below token".into(),
            ),
            (
                self.hold.is_zero() || self.hold >= self.token,
                "hold",
                "must be positive and below token".into(),
            ),
            (
                !self.fail_silent_after.is_zero() && self.fail_silent_after < self.join * 2,
                "fail_silent_after",
                format!(
                    "{:?} must be zero or at least two join intervals",
                    self.fail_silent_after
                ),
            ),
            (
                self.consensus < self.token,
                "consensus",
                format!("{:?} must be at least token ({:?})", self.consensus, self.token),
            ),
            (self.max_messages == 0, "max_messages", at_least_one()),
            (
                self.window_size < self.max_messages,
                "window_size",
                format!("{} is below max_messages ({})", self.window_size, self.max_messages),
            ),
            (self.miss_count_const == 0, "miss_count_const", at_least_one()),
            (self.fail_recv_const == 0, "fail_recv_const", at_least_one()),
            (self.seqno_unchanged_const == 0, "seqno_unchanged_const", at_least_one()),
        ];
        if let Some((_, field, reason)) = rules.into_iter().find(|(broken, ..)| *broken) {
            return Err(ConfigError { field, reason });
        }
        if !(64..=65_000).contains(&self.frame_mtu) {
            return Err(ConfigError {
                field: "netmtu",
                reason: format!("frame size {} out of range", self.frame_mtu),
            });
        }
        if self.delivery_backlog_max == 0 {
            return Err(ConfigError {
                field: "delivery_backlog_max",
                reason: at_least_one(),
            });
        }
        if self.send_queue_max == 0 {
            return Err(ConfigError {
                field: "send_queue_max",
                reason: at_least_one(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_corosync() {
        let c = Config::for_nodelist(3);
        assert_eq!(c.token, Duration::from_millis(3650));
        assert_eq!(c.consensus, Duration::from_millis(4380));
        let two = Config::for_nodelist(2);
        assert_eq!(two.token, Duration::from_millis(3000));
        assert_eq!(two.token_retransmit.as_millis(), 714);
        assert_eq!(two.hold.as_millis(), 561);
        assert_eq!(two.join, Duration::from_millis(50));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validation_names_the_field() {
        let c = Config {
            consensus: Duration::from_millis(100),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "consensus");
        let c = Config {
            window_size: 1,
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "window_size");
        let c = Config {
            join: Duration::from_millis(1),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap_err().field, "join");
    }
}
