//! Rule evaluation (`<rule>` with attribute and date expressions) and the
//! ISO 8601 date handling it needs.

use std::collections::BTreeMap;

use crate::{BoolOp, Rule, RuleItem};

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    pub node_attrs: Option<&'a BTreeMap<String, String>>,
    pub now: i64,
    /// For `rsc_expression` (class, provider, type).
    pub rsc: Option<(&'a str, Option<&'a str>, &'a str)>,
    /// For `op_expression` (name, interval ms).
    pub op: Option<(&'a str, u64)>,
    pub role: Option<&'a str>,
    /// The resource's parameters and meta-attributes, for expressions with
    /// `value-source="param"` or `"meta"` (location rules).
    pub rsc_params: Option<&'a BTreeMap<String, String>>,
    pub rsc_meta: Option<&'a BTreeMap<String, String>>,
}

impl<'a> RuleContext<'a> {
    pub fn new(now: i64) -> Self {
        RuleContext {
            node_attrs: None,
            now,
            rsc: None,
            op: None,
            role: None,
            rsc_params: None,
            rsc_meta: None,
        }
    }
}

/// Evaluates a rule; an empty rule is true.
pub fn eval_rule(rule: &Rule, ctx: &RuleContext<'_>) -> bool {
    if rule.items.is_empty() {
        return true;
    }
    let mut results = rule.items.iter().map(|i| eval_item(i, ctx));
    match rule.boolean_op {
        BoolOp::And => results.all(|b| b),
        BoolOp::Or => results.any(|b| b),
    }
}

fn eval_item(item: &RuleItem, ctx: &RuleContext<'_>) -> bool {
    match item {
        RuleItem::Rule(r) => eval_rule(r, ctx),
        RuleItem::Expr {
            attribute,
            operation,
            value,
            value_type,
            value_source,
        } => {
            let actual = ctx
                .node_attrs
                .and_then(|a| a.get(attribute.as_str()))
                .map(String::as_str);
            // With value-source param/meta, the value names a resource
            // parameter or meta-attribute whose value is compared.
            let source = match value_source.as_deref() {
                Some("param") => Some(ctx.rsc_params),
                Some("meta") => Some(ctx.rsc_meta),
                _ => None,
            };
            let expected = match source {
                Some(table) => value
                    .as_deref()
                    .and_then(|v| table.and_then(|t| t.get(v)))
                    .map(String::as_str),
                None => value.as_deref(),
            };
            compare(actual, operation, expected, value_type.as_deref())
        }
        RuleItem::Date {
            operation,
            start,
            end,
            spec,
            duration,
        } => eval_date(ctx.now, operation, start, end, spec, duration),
        RuleItem::Rsc { class, provider, ty } => match ctx.rsc {
            None => false,
            Some((c, p, t)) => {
                class.as_deref().is_none_or(|x| x == c)
                    && provider.as_deref().is_none_or(|x| Some(x) == p)
                    && ty.as_deref().is_none_or(|x| x == t)
            }
        },
        RuleItem::Op { name, interval_ms } => match ctx.op {
            None => false,
            Some((n, i)) => n == name && interval_ms.is_none_or(|x| x == i),
        },
    }
}

fn compare(actual: Option<&str>, op: &str, expected: Option<&str>, ty: Option<&str>) -> bool {
    match op {
        "defined" => return actual.is_some(),
        "not_defined" => return actual.is_none(),
        _ => {}
    }
    let (Some(a), Some(e)) = (actual, expected) else {
        return op == "ne" && actual.is_none() != expected.is_none();
    };
    let ty = ty.map(str::to_ascii_lowercase).unwrap_or_else(|| {
        // Pacemaker infers number for ordering comparisons on numbers.
        if matches!(op, "lt" | "gt" | "lte" | "gte")
            && a.trim().parse::<f64>().is_ok()
            && e.trim().parse::<f64>().is_ok()
        {
            "number".into()
        } else {
            "string".into()
        }
    });
    let ord = match ty.as_str() {
        "integer" => match (int_prefix(a), int_prefix(e)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(a.to_ascii_lowercase().cmp(&e.to_ascii_lowercase())),
        },
        "number" => match (a.trim().parse::<f64>(), e.trim().parse::<f64>()) {
            (Ok(x), Ok(y)) => x.partial_cmp(&y),
            _ => Some(a.to_ascii_lowercase().cmp(&e.to_ascii_lowercase())),
        },
        "version" => Some(cmp_version(a, e)),
        _ => Some(a.to_ascii_lowercase().cmp(&e.to_ascii_lowercase())),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        "eq" => ord == Equal,
        "ne" => ord != Equal,
        "lt" => ord == Less,
        "lte" => ord != Greater,
        "gt" => ord == Greater,
        "gte" => ord != Less,
        _ => false,
    }
}

/// Leading integer of a string, like `strtoll` (`"3.6"` → 3).
fn int_prefix(s: &str) -> Option<i64> {
    let t = s.trim();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map(|(i, _)| i)
        .unwrap_or(t.len());
    t[..end].parse().ok()
}

fn cmp_version(a: &str, b: &str) -> std::cmp::Ordering {
    let pa: Vec<i64> = a.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    let pb: Vec<i64> = b.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    let n = pa.len().max(pb.len());
    for i in 0..n {
        let x = pa.get(i).copied().unwrap_or(0);
        let y = pb.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

fn eval_date(
    now: i64,
    operation: &str,
    start: &Option<String>,
    end: &Option<String>,
    spec: &Option<Vec<(String, String)>>,
    duration: &Option<Vec<(String, String)>>,
) -> bool {
    let start_t = start.as_deref().and_then(parse_datetime);
    let mut end_t = end.as_deref().and_then(parse_datetime);
    match operation {
        "gt" => start_t.is_some_and(|s| now > s),
        "lt" => end_t.is_some_and(|e| now < e),
        "date_spec" => spec.as_ref().is_some_and(|s| date_spec_matches(now, s)),
        _ => {
            if end_t.is_none() {
                if let (Some(s), Some(d)) = (start_t, duration.as_ref()) {
                    end_t = Some(add_duration(s, d));
                }
            }
            start_t.is_none_or(|s| now >= s) && end_t.is_none_or(|e| now <= e)
        }
    }
}

fn add_duration(start: i64, d: &[(String, String)]) -> i64 {
    let mut t = start;
    for (k, v) in d {
        let n: i64 = v.parse().unwrap_or(0);
        match k.as_str() {
            "years" => {
                let (y, m, dd, rest) = split_time(t);
                t = days_from_civil(y + n, m, dd) * 86400 + rest;
            }
            "months" => {
                let (y, m, dd, rest) = split_time(t);
                let total = y * 12 + (m - 1) + n;
                t = days_from_civil(total.div_euclid(12), total.rem_euclid(12) + 1, dd) * 86400 + rest;
            }
            "weeks" => t += n * 7 * 86400,
            "days" => t += n * 86400,
            "hours" => t += n * 3600,
            "minutes" => t += n * 60,
            "seconds" => t += n,
            _ => {}
        }
    }
    t
}

fn split_time(t: i64) -> (i64, i64, i64, i64) {
    let days = t.div_euclid(86400);
    let rest = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rest)
}

fn in_ranges(value: i64, spec: &str) -> bool {
    spec.split(',').any(|part| {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<i64>(), b.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => value >= a && value <= b,
                _ => false,
            },
            None => part.parse::<i64>().is_ok_and(|v| v == value),
        }
    })
}

fn date_spec_matches(now: i64, spec: &[(String, String)]) -> bool {
    let days = now.div_euclid(86400);
    let secs = now.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let yday = days - days_from_civil(y, 1, 1) + 1;
    // ISO weekday: Monday = 1 .. Sunday = 7; 1970-01-01 was a Thursday.
    let wday = (days + 3).rem_euclid(7) + 1;
    spec.iter().all(|(k, v)| {
        let value = match k.as_str() {
            "years" => y,
            "months" => m,
            "monthdays" => d,
            "hours" => secs / 3600,
            "minutes" => (secs / 60) % 60,
            "seconds" => secs % 60,
            "yeardays" => yday,
            "weekdays" => wday,
            "weeks" => (yday - 1) / 7 + 1,
            "weekyears" => y,
            _ => return true,
        };
        in_ranges(value, v)
    })
}

/// Days since 1970-01-01 for a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `ctime`-style text of an epoch time in UTC (`Fri Jul 13 13:50:59 2012`),
/// as `pcmk__epoch2str` prints it with `TZ=UTC` (crm_mon, `cib-last-written`).
pub fn ctime(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd} {mon} {d:>2} {:02}:{:02}:{:02} {y}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses the ISO 8601 forms Pacemaker accepts (`2005-020`, `2005-01-20`,
/// `2005-01-20T12:30:00Z`, `2014-05-07 00:28:00`) into epoch seconds (UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let days = match parts.as_slice() {
        [y, doy] if doy.len() == 3 => {
            let y: i64 = y.parse().ok()?;
            days_from_civil(y, 1, 1) + doy.parse::<i64>().ok()? - 1
        }
        [y, m, d] => days_from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        [y, m] => days_from_civil(y.parse().ok()?, m.parse().ok()?, 1),
        [y] if y.len() == 4 => days_from_civil(y.parse().ok()?, 1, 1),
        _ => return None,
    };
    let mut secs = 0i64;
    if let Some(t) = time {
        let mut t = t.trim_end_matches('Z');
        let mut offset = 0i64;
        if let Some(pos) = t.rfind(['+', '-']) {
            let (clock, off) = t.split_at(pos);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let off = &off[1..];
            let (oh, om) = off.split_once(':').unwrap_or((off, "0"));
            offset = sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().unwrap_or(0) * 60);
            t = clock;
        }
        let f: Vec<&str> = t.split(':').collect();
        let h: i64 = f.first()?.parse().ok()?;
        let mi: i64 = f.get(1).map(|x| x.parse().unwrap_or(0)).unwrap_or(0);
        let se: i64 = f
            .get(2)
            .map(|x| x.split('.').next().unwrap_or("0").parse().unwrap_or(0))
            .unwrap_or(0);
        secs = h * 3600 + mi * 60 + se - offset;
    }
    Some(days * 86400 + secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-001"), Some(0));
        assert_eq!(parse_datetime("2005-020"), parse_datetime("2005-01-20"));
        assert_eq!(
            parse_datetime("2005-01-20T12:30"),
            Some(parse_datetime("2005-01-20").unwrap() + 12 * 3600 + 1800)
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn comparisons() {
        assert!(compare(Some("10"), "gt", Some("9"), None));
        assert!(!compare(Some("10"), "gt", Some("9"), Some("string")));
        assert!(compare(Some("abc"), "eq", Some("ABC"), None));
        assert!(compare(None, "not_defined", None, None));
        assert!(compare(Some("2.1.5"), "gte", Some("2.1"), Some("version")));
    }
}
