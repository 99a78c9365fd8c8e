//! An action's meta-attributes as Pacemaker's `unpack_operation` builds
//! them (`lib/pengine/pe_actions.c`): `op_defaults`, the probe's default
//! timeout, the matching `<op>`'s meta-attributes and XML attributes, with
//! the interval, timeout and start delay normalised to milliseconds.

use std::collections::BTreeMap;

use crate::model::{Cluster, RscIdx, Variant};
use crate::unpack::merge_nvsets;
use cib::time::parse_datetime_in;
use cib::time::TimeZone;
use cib::{parse_interval_ms, OpDef};

/// `CRM_DEFAULT_OP_TIMEOUT_S`.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;

/// The `<op>` an action uses (`find_rsc_op_entry_helper`, disabled
/// operations included): same name and interval, else `migrate` for
/// migrations and `notify` for notifications.
pub fn op_entry<'a>(ops: &'a [OpDef], task: &str, interval_ms: u64) -> Option<&'a OpDef> {
    let find = |name: &str, interval: u64| {
        ops.iter()
            .find(|o| o.name.eq_ignore_ascii_case(name) && o.interval_ms == interval)
    };
    find(task, interval_ms).or_else(|| match task {
        t if t.contains("migrate") => find("migrate", 0),
        t if t.contains("notify") => find("notify", 0),
        _ => None,
    })
}

/// `find_min_interval_mon`: the enabled recurring monitor with the
/// shortest interval.
fn min_interval_monitor(ops: &[OpDef]) -> Option<&OpDef> {
    ops.iter()
        .filter(|o| o.name.eq_ignore_ascii_case("monitor") && o.interval_ms > 0)
        .filter(|o| o.attr("enabled").is_none_or(|v| !is_false(v)))
        .min_by_key(|o| o.interval_ms)
}

fn is_false(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0" | "n")
}

/// `crm_get_msec`-style duration, `None` when it does not parse.
fn msec(v: &str) -> Option<u64> {
    parse_interval_ms(v)
}

/// `unpack_interval_origin`: milliseconds from now until the next
/// multiple of the interval after `origin` (local time in `tz` unless it
/// names an offset).
fn origin_start_delay_ms(origin: &str, interval_ms: u64, now: i64, tz: &TimeZone) -> Option<u64> {
    let interval_s = (interval_ms / 1000) as i64;
    if interval_s == 0 {
        return None;
    }
    let origin = parse_datetime_in(origin, tz)?;
    let since = (now - origin) % interval_s;
    let remaining = if since <= 0 { 0 } else { interval_s } - since;
    Some(remaining as u64 * 1000)
}

/// The meta-attributes of `task` (interval `interval_ms`) for resource `r`.
pub fn action_meta(c: &Cluster, r: RscIdx, task: &str, interval_ms: u64) -> BTreeMap<String, String> {
    let rs = &c.rscs[r];
    let mut ctx = c.rule_context();
    if let Variant::Primitive { class, provider, ty } = &rs.variant {
        ctx.rsc = Some((class.as_str(), provider.as_deref(), ty.as_str()));
    }
    ctx.op = Some((task, interval_ms));
    let mut meta = BTreeMap::new();
    merge_nvsets(&c.op_defaults, &ctx, &mut meta);
    let is_probe = task == "monitor" && interval_ms == 0;
    if is_probe {
        if let Some(t) = min_interval_monitor(&rs.config.ops).and_then(|m| m.attrs.iter().find(|(k, _)| k == "timeout"))
        {
            meta.insert("timeout".into(), t.1.to_string());
        }
    }
    if let Some(op) = op_entry(&rs.config.ops, task, interval_ms) {
        // The <op>'s meta-attributes, then its XML attributes, win.
        let mut own = BTreeMap::new();
        merge_nvsets(&op.meta, &ctx, &mut own);
        meta.extend(own);
        meta.insert("name".into(), op.name.clone());
        meta.extend(op.attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    meta.remove("id");
    if interval_ms > 0 {
        meta.insert("interval".into(), interval_ms.to_string());
    } else {
        meta.remove("interval");
    }
    let fence_class = matches!(&rs.variant, Variant::Primitive { class, .. } if class == "stonith");
    if fence_class && (task == "start" || is_probe) {
        if let Some(t) = rs.config.params.get("pcmk_monitor_timeout") {
            meta.insert("timeout".into(), t.clone());
        }
    }
    let timeout = meta.get("timeout").and_then(|t| msec(t)).unwrap_or(DEFAULT_TIMEOUT_MS);
    meta.insert("timeout".into(), timeout.to_string());
    if let Some(d) = meta.get("start-delay") {
        let ms = msec(d).unwrap_or(0);
        meta.insert("start-delay".into(), ms.to_string());
    } else if let Some(delay) = meta
        .get("interval-origin")
        .and_then(|o| origin_start_delay_ms(o, interval_ms, c.now, &c.tz))
    {
        meta.insert("start-delay".into(), delay.to_string());
    }
    meta
}

/// The action's timeout in milliseconds.
pub fn timeout_ms(meta: &BTreeMap<String, String>) -> u64 {
    meta.get("timeout")
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cib, run};

    fn meta_of(resources: &str, rsc: &str, task: &str, interval_ms: u64) -> BTreeMap<String, String> {
        let s = run(&cib(1, resources, "", &[]));
        let r = s.cluster.rsc_by_id(rsc).expect("resource");
        action_meta(&s.cluster, r, task, interval_ms)
    }

    const R: &str = r#"<primitive id="r" class="ocf" provider="pacemaker" type="Dummy"><operations>
        <op id="r-mon" name="monitor" interval="10s" timeout="30s" on-fail="block"/>
        <op id="r-start" name="start" interval="0" timeout="1m" start-delay="2s"/>
        </operations></primitive>"#;

    #[test]
    fn op_attributes_are_normalised() {
        let m = meta_of(R, "r", "monitor", 10_000);
        assert_eq!(m.get("interval").map(String::as_str), Some("10000"));
        assert_eq!(m.get("timeout").map(String::as_str), Some("30000"));
        assert_eq!(m.get("name").map(String::as_str), Some("monitor"));
        assert_eq!(m.get("on-fail").map(String::as_str), Some("block"));
        assert!(!m.contains_key("id"));
        let start = meta_of(R, "r", "start", 0);
        assert_eq!(start.get("timeout").map(String::as_str), Some("60000"));
        assert_eq!(start.get("start-delay").map(String::as_str), Some("2000"));
        assert!(!start.contains_key("interval"));
    }

    #[test]
    fn probe_takes_the_shortest_monitor_timeout_and_others_the_default() {
        assert_eq!(timeout_ms(&meta_of(R, "r", "monitor", 0)), 30_000);
        assert_eq!(timeout_ms(&meta_of(R, "r", "stop", 0)), DEFAULT_TIMEOUT_MS);
        assert!(!meta_of(R, "r", "stop", 0).contains_key("name"));
    }

    #[test]
    fn interval_origin_gives_the_delay_to_the_next_multiple() {
        // 100 s after the origin with a 60 s interval: next run in 20 s.
        let origin = "2020-01-01T00:00:00Z";
        let now = cib::time::parse_datetime(origin).unwrap() + 100;
        assert_eq!(origin_start_delay_ms(origin, 60_000, now, &TimeZone::UTC), Some(20_000));
        assert_eq!(origin_start_delay_ms(origin, 0, now, &TimeZone::UTC), None);
    }
}
