//! Fence devices and their Pacemaker options (`pcmk_*`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, FenceAction};

/// A fence device's id (the CIB `primitive` id of class `stonith`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(String);

impl DeviceId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to learn which nodes a device can fence (`pcmk_host_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCheck {
    /// The nodes in `pcmk_host_list` and `pcmk_host_map`.
    StaticList,
    /// The nodes the agent's `list` action prints.
    DynamicList,
    /// The nodes for which the agent's `status` action exits 0 (on) or 2 (off).
    Status,
    /// Every node.
    None,
}

impl HostCheck {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "static-list" => Self::StaticList,
            "dynamic-list" => Self::DynamicList,
            "status" => Self::Status,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// A registered fence device: its agent and parameters, with the `pcmk_*` options parsed.
#[derive(Debug, Clone)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// The agent: an absolute path, or a name looked up in the fencer's agent directory.
    pub agent: PathBuf,
    /// Every parameter as configured, Pacemaker's own options included.
    pub params: BTreeMap<String, String>,
    /// `pcmk_host_list`.
    pub host_list: Vec<String>,
    /// `pcmk_host_map`: node name → the agent's name for it (port/plug).
    pub host_map: BTreeMap<String, String>,
    /// `pcmk_host_check`, or the default: static-list when a list or map is set, else
    /// dynamic-list, until the agent's metadata says otherwise (see `host_check_from_metadata`).
    pub host_check: HostCheck,
    /// True when `pcmk_host_check` is unset and there is no list or map: then, as Pacemaker,
    /// the fencer asks the agent's metadata and uses dynamic-list if the agent supports `list`,
    /// else status if it supports `status`, else none.
    pub host_check_from_metadata: bool,
    /// The parameter name that carries the target (`pcmk_host_argument`, default `port`);
    /// `None` for `pcmk_host_argument=none`.
    pub host_argument: Option<String>,
    /// `pcmk_delay_base`.
    pub delay_base: Duration,
    /// `pcmk_delay_max`.
    pub delay_max: Duration,
}

/// Parses Pacemaker's interval syntax as used in fencing options: a plain number is seconds;
/// suffixes ms, s, m/min, h are accepted.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit.trim() {
        "" | "s" | "sec" => Duration::from_secs(n),
        "ms" | "msec" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n * 60),
        "h" | "hr" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

/// Parses `pcmk_host_map`: `node=port` or `node:port` pairs separated by `;`, spaces or tabs;
/// a backslash escapes the next character.
pub fn parse_host_map(s: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut map = BTreeMap::new();
    let mut key: Option<String> = None;
    let mut cur = String::new();
    let mut chars = s.chars();
    let mut finish = |key: &mut Option<String>, cur: &mut String| -> Result<(), Error> {
        match key.take() {
            Some(k) => {
                if cur.is_empty() {
                    return Err(Error::HostMap(format!("no port for node '{k}'")));
                }
                map.insert(k, std::mem::take(cur));
            }
            None if cur.is_empty() => {}
            None => return Err(Error::HostMap(format!("'{cur}' has no '=' or ':'"))),
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '=' | ':' if key.is_none() => {
                if cur.is_empty() {
                    return Err(Error::HostMap("empty node name".into()));
                }
                key = Some(std::mem::take(&mut cur));
            }
            ';' | ' ' | '\t' | '\n' => finish(&mut key, &mut cur)?,
            c => cur.push(c),
        }
    }
    finish(&mut key, &mut cur)?;
    Ok(map)
}

impl Device {
    /// A device; fails on malformed `pcmk_*` options.
    pub fn new(id: DeviceId, agent: impl Into<PathBuf>, params: BTreeMap<String, String>) -> Result<Self, Error> {
        let host_list: Vec<String> = params
            .get("pcmk_host_list")
            .map(|l| {
                l.split([' ', ',', ';', '\t', '\n'])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let host_map = match params.get("pcmk_host_map") {
            Some(m) => parse_host_map(m)?,
            None => BTreeMap::new(),
        };
        let host_check_from_metadata =
            !params.contains_key("pcmk_host_check") && host_list.is_empty() && host_map.is_empty();
        let host_check = match params.get("pcmk_host_check") {
            Some(v) => HostCheck::parse(v).ok_or_else(|| Error::BadOption {
                option: "pcmk_host_check".into(),
                value: v.clone(),
            })?,
            None if !host_list.is_empty() || !host_map.is_empty() => HostCheck::StaticList,
            None => HostCheck::DynamicList,
        };
        let host_argument = match params.get("pcmk_host_argument").map(String::as_str) {
            Some("none") => None,
            Some(arg) => Some(arg.to_owned()),
            None => Some("port".to_owned()),
        };
        let duration = |name: &str| -> Result<Duration, Error> {
            match params.get(name) {
                None => Ok(Duration::ZERO),
                Some(v) => parse_duration(v).ok_or_else(|| Error::BadOption {
                    option: name.into(),
                    value: v.clone(),
                }),
            }
        };
        let delay_base = duration("pcmk_delay_base")?;
        let delay_max = duration("pcmk_delay_max")?;
        for (k, v) in &params {
            if k.starts_with("pcmk_") && k.ends_with("_timeout") {
                parse_duration(v).ok_or_else(|| Error::BadOption {
                    option: k.clone(),
                    value: v.clone(),
                })?;
            }
        }
        Ok(Self {
            id,
            agent: agent.into(),
            params,
            host_list,
            host_map,
            host_check,
            host_check_from_metadata,
            host_argument,
            delay_base,
            delay_max,
        })
    }

    /// The agent's name for `target` (its `pcmk_host_map` alias, or the name itself).
    pub fn port_for<'a>(&'a self, target: &'a str) -> &'a str {
        self.host_map.get(target).map(String::as_str).unwrap_or(target)
    }

    /// Whether the static configuration names `target` (`pcmk_host_list` compares names
    /// case-insensitively, as Pacemaker does).
    pub fn statically_lists(&self, target: &str) -> bool {
        self.host_list.iter().any(|h| h.eq_ignore_ascii_case(target)) || self.host_map.contains_key(target)
    }

    /// The action name sent to the agent (`pcmk_<action>_action` renames it).
    pub fn agent_action(&self, action: FenceAction) -> String {
        self.params
            .get(&format!("pcmk_{}_action", action.as_str()))
            .cloned()
            .unwrap_or_else(|| action.as_str().to_owned())
    }

    /// `pcmk_<action>_timeout`, if set.
    pub fn action_timeout(&self, action: FenceAction) -> Option<Duration> {
        self.params
            .get(&format!("pcmk_{}_timeout", action.as_str()))
            .and_then(|v| parse_duration(v))
    }

    /// `pcmk_<action>_retries` (default 2, as Pacemaker).
    pub fn action_retries(&self, action: FenceAction) -> u32 {
        self.params
            .get(&format!("pcmk_{}_retries", action.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(2)
    }

    /// The delay before a fencing action (off, reboot) by this device: `pcmk_delay_base`
    /// plus a random part below `pcmk_delay_max - pcmk_delay_base` (Pacemaker's formula; a
    /// base above the max is lowered to the max; other actions get no delay).
    pub fn fencing_delay(&self, action: FenceAction, rng: &mut impl rand::Rng) -> Duration {
        if !matches!(action, FenceAction::Off | FenceAction::Reboot) {
            return Duration::ZERO;
        }
        let (base, max) = (self.delay_base.as_secs(), self.delay_max.as_secs());
        let max = if max == 0 { base } else { max };
        let base = base.min(max);
        if max == 0 {
            return Duration::ZERO;
        }
        let random = if max != base { rng.gen_range(0..max - base) } else { 0 };
        Duration::from_secs(base + random)
    }

    /// The stdin the agent gets for `action` on `target`: `action=`, `nodename=` and the host
    /// argument for a target, then every device parameter except Pacemaker's own.
    pub fn agent_input(&self, action: FenceAction, target: Option<&str>) -> String {
        let mut lines = vec![format!("action={}", self.agent_action(action))];
        if let Some(target) = target {
            lines.push(format!("nodename={target}"));
            if let Some(arg) = &self.host_argument {
                if !self.params.contains_key(arg) {
                    lines.push(format!("{arg}={}", self.port_for(target)));
                }
            }
        }
        for (k, v) in &self.params {
            let pacemakers = k.starts_with("pcmk_")
                || k.starts_with("CRM_meta_")
                || matches!(
                    k.as_str(),
                    "provides" | "stonith-timeout" | "crm_feature_set" | "action"
                );
            if !pacemakers {
                lines.push(format!("{k}={v}"));
            }
        }
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn host_map_syntax() {
        let m = parse_host_map("node1:1;node2=2 node3:3\tnode\\:4=a\\ b;").unwrap();
        assert_eq!(m["node1"], "1");
        assert_eq!(m["node2"], "2");
        assert_eq!(m["node3"], "3");
        assert_eq!(m["node:4"], "a b");
        assert_eq!(m.len(), 4);
        assert!(parse_host_map("node1").is_err());
        assert!(parse_host_map("node1=").is_err());
    }

    #[test]
    fn options_and_agent_input() {
        let d = Device::new(
            DeviceId::new("f1"),
            "fence_x",
            params(&[
                ("pcmk_host_map", "node1:n1"),
                ("pcmk_host_list", "node2"),
                ("pcmk_off_action", "poweroff"),
                ("pcmk_delay_base", "2s"),
                ("ipaddr", "10.0.0.1"),
                ("provides", "unfencing"),
            ]),
        )
        .unwrap();
        assert_eq!(d.host_check, HostCheck::StaticList);
        assert!(d.statically_lists("node1") && d.statically_lists("node2") && !d.statically_lists("node3"));
        assert_eq!(
            d.agent_input(FenceAction::Off, Some("node1")),
            "action=poweroff\nnodename=node1\nport=n1\nipaddr=10.0.0.1\n"
        );
        assert_eq!(d.agent_input(FenceAction::List, None), "action=list\nipaddr=10.0.0.1\n");
        let d2 = Device::new(DeviceId::new("f2"), "x", params(&[("pcmk_host_argument", "plug")])).unwrap();
        assert_eq!(d2.host_check, HostCheck::DynamicList);
        assert_eq!(
            d2.agent_input(FenceAction::Reboot, Some("a")),
            "action=reboot\nnodename=a\nplug=a\n"
        );
        let d3 = Device::new(DeviceId::new("f3"), "x", params(&[("pcmk_host_argument", "none")])).unwrap();
        assert_eq!(
            d3.agent_input(FenceAction::Reboot, Some("a")),
            "action=reboot\nnodename=a\n"
        );
        assert!(Device::new(DeviceId::new("f"), "x", params(&[("pcmk_host_check", "bogus")])).is_err());
        assert!(Device::new(DeviceId::new("f"), "x", params(&[("pcmk_delay_max", "soon")])).is_err());
    }

    #[test]
    fn delays_follow_pacemakers_formula() {
        let mut rng = rand::rngs::mock::StepRng::new(0, 1);
        let dev = |kv: &[(&str, &str)]| Device::new(DeviceId::new("d"), "x", params(kv)).unwrap();
        let base = dev(&[("pcmk_delay_base", "3")]);
        assert_eq!(base.fencing_delay(FenceAction::Off, &mut rng), Duration::from_secs(3));
        assert_eq!(base.fencing_delay(FenceAction::Status, &mut rng), Duration::ZERO);
        let both = dev(&[("pcmk_delay_base", "2s"), ("pcmk_delay_max", "5s")]);
        let mut real = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(7);
        for _ in 0..100 {
            let d = both.fencing_delay(FenceAction::Reboot, &mut real).as_secs();
            assert!((2..5).contains(&d), "{d}");
        }
        let inverted = dev(&[("pcmk_delay_base", "9"), ("pcmk_delay_max", "4")]);
        assert_eq!(
            inverted.fencing_delay(FenceAction::Off, &mut rng),
            Duration::from_secs(4)
        );
        assert_eq!(dev(&[]).fencing_delay(FenceAction::Off, &mut rng), Duration::ZERO);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("150ms"), Some(Duration::from_millis(150)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("x"), None);
    }
}
