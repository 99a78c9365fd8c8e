//! The keys corosync 3.1.7 knows (`man corosync.conf`, `exec/totemconfig.c`,
//! `exec/coroparse.c`) and what values each accepts. Unknown keys only warn, as in corosync,
//! so configs written for newer versions or for knet still load.

/// What a key's value must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An unsigned integer in this inclusive range.
    Int(u64, u64),
    /// yes/no, on/off, true/false, 1/0.
    Bool,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// Anything.
    Str,
}

const TIMER: Kind = Kind::Int(0, 3_600_000);
const ON_OFF: Kind = Kind::Bool;

/// Kind of the key `key` in the section path `sections` (without indices), or `None` if unknown.
pub fn kind_of(sections: &[String], key: &str) -> Option<Kind> {
    let path: Vec<&str> = sections.iter().map(String::as_str).collect();
    match path.as_slice() {
        ["totem"] => totem(key),
        ["totem", "interface"] => interface(key),
        ["nodelist", "node"] => node(key),
        ["nodelist"] => (key == "local_node_pos").then_some(Kind::Int(0, 65_535)),
        ["logging"] | ["logging", "logger_subsys"] => logging(key),
        ["quorum"] => quorum(key),
        ["quorum", "device", ..] => Some(Kind::Str),
        ["system"] => system(key),
        ["resources", ..] | ["uidgid"] | ["qb"] => Some(Kind::Str),
        _ => None,
    }
}

/// Whether a top-level section name is one corosync 3.1.7 reads.
pub fn known_section(name: &str) -> bool {
    matches!(
        name,
        "totem" | "nodelist" | "logging" | "quorum" | "system" | "resources" | "uidgid" | "qb"
    )
}

fn totem(key: &str) -> Option<Kind> {
    Some(match key {
        "version" => Kind::Int(2, 2),
        "cluster_name" | "keyfile" | "key" => Kind::Str,
        "transport" => Kind::Enum(&["udpu", "udp", "knet"]),
        "crypto_cipher" => Kind::Enum(&["none", "aes256", "aes192", "aes128"]),
        "crypto_hash" => Kind::Enum(&["none", "md5", "sha1", "sha256", "sha384", "sha512"]),
        "crypto_model" => Kind::Enum(&["nss", "openssl"]),
        "secauth" | "clear_node_high_bit" | "block_unlisted_ips" | "cancel_token_hold_on_retransmit" => ON_OFF,
        "ip_version" => Kind::Enum(&["ipv4", "ipv6", "ipv4-6", "ipv6-4"]),
        "link_mode" => Kind::Enum(&["passive", "active", "rr"]),
        "rrp_mode" => Kind::Enum(&["none", "passive", "active"]),
        "token"
        | "token_coefficient"
        | "token_retransmit"
        | "hold"
        | "join"
        | "send_join"
        | "fail_silent_after"
        | "consensus"
        | "merge"
        | "downcheck"
        | "max_network_delay"
        | "knet_pmtud_interval" => TIMER,
        "token_warning" => Kind::Int(0, 100),
        "token_retransmits_before_loss_const" => Kind::Int(1, 1000),
        "fail_recv_const" | "seqno_unchanged_const" | "heartbeat_failures_allowed" | "miss_count_const" => {
            Kind::Int(0, 1_000_000)
        }
        "max_messages" | "window_size" => Kind::Int(1, 1_000_000),
        // Below the token resend's 1 ms slack: a held token is never resent for the hold.
        "token_batch_hold_us" => Kind::Int(0, 999),
        "netmtu" => Kind::Int(576, 65_536),
        "nodeid" => Kind::Int(1, u64::from(u32::MAX)),
        "threads" => Kind::Int(0, 16),
        "knet_compression_model" | "knet_compression_threshold" | "knet_compression_level" | "knet_mtu" => Kind::Str,
        _ => return None,
    })
}

fn interface(key: &str) -> Option<Kind> {
    Some(match key {
        "linknumber" | "ringnumber" => Kind::Int(0, 7),
        "mcastport" => Kind::Int(1, 65_535),
        "bindnetaddr" | "mcastaddr" | "broadcast" => Kind::Str,
        "ttl" => Kind::Int(0, 255),
        "knet_link_priority"
        | "knet_ping_interval"
        | "knet_ping_timeout"
        | "knet_ping_precision"
        | "knet_pong_count" => Kind::Int(0, u64::from(u32::MAX)),
        "knet_transport" => Kind::Enum(&["udp", "sctp"]),
        _ => return None,
    })
}

fn node(key: &str) -> Option<Kind> {
    if let Some(n) = key.strip_prefix("ring").and_then(|k| k.strip_suffix("_addr")) {
        return matches!(n, "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7").then_some(Kind::Str);
    }
    Some(match key {
        "nodeid" => Kind::Int(1, u64::from(u32::MAX)),
        "name" => Kind::Str,
        "quorum_votes" => Kind::Int(0, 255),
        _ => return None,
    })
}

fn logging(key: &str) -> Option<Kind> {
    Some(match key {
        "to_stderr" | "to_logfile" | "to_syslog" | "fileline" | "function_name" | "blackbox" => ON_OFF,
        "debug" => Kind::Enum(&["on", "off", "trace", "yes", "no"]),
        "timestamp" => Kind::Enum(&["on", "off", "hires", "yes", "no"]),
        "logfile" | "subsys" | "tags" | "syslog_facility" => Kind::Str,
        "logfile_priority" | "syslog_priority" | "syslog_level" => {
            Kind::Enum(&["alert", "crit", "debug", "emerg", "err", "info", "notice", "warning"])
        }
        _ => return None,
    })
}

fn quorum(key: &str) -> Option<Kind> {
    Some(match key {
        "provider" => Kind::Enum(&["corosync_votequorum"]),
        "expected_votes" | "votes" => Kind::Int(1, u64::from(u32::MAX)),
        "two_node" | "wait_for_all" | "last_man_standing" | "allow_downscale" | "expected_votes_tracking" => {
            Kind::Int(0, 1)
        }
        "last_man_standing_window" => TIMER,
        "auto_tie_breaker" => Kind::Int(0, 1),
        "auto_tie_breaker_node" => Kind::Str,
        _ => return None,
    })
}

fn system(key: &str) -> Option<Kind> {
    Some(match key {
        "state_dir" | "run_dir" | "priority" => Kind::Str,
        "qb_ipc_type" => Kind::Enum(&["native", "shm", "socket"]),
        "sched_rr" | "move_to_root_cgroup" | "allow_knet_handle_fallback" => Kind::Enum(&["yes", "no", "auto"]),
        _ => return None,
    })
}

/// Checks `value` against `kind`; the error is a message for the user.
pub fn check(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Int(min, max) => match value.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            Ok(v) => Err(format!("{v} is out of range {min}..={max}")),
            Err(_) => Err(format!("{value:?} is not a non-negative integer")),
        },
        Kind::Bool => parse_bool(value)
            .map(|_| ())
            .ok_or_else(|| format!("{value:?} is not yes/no or on/off")),
        Kind::Enum(words) => {
            if words.contains(&value) {
                Ok(())
            } else {
                Err(format!("{value:?} is not one of {}", words.join(", ")))
            }
        }
        Kind::Str => Ok(()),
    }
}

/// corosync's boolean spellings.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "yes" | "on" | "true" | "1" => Some(true),
        "no" | "off" | "false" | "0" => Some(false),
        _ => None,
    }
}
