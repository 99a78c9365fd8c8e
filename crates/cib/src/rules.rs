//! Rule evaluation (`<rule>` with attribute and date expressions); the
//! dates themselves are [`crate::time`]'s.

use std::collections::BTreeMap;

use crate::time::{self, parse_datetime_in, TimeZone};
use crate::{BoolOp, CompactString, Rule, RuleItem};

/// UTC, for contexts that are given no zone.
static UTC: TimeZone = TimeZone::UTC;

/// What a rule is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    pub node_attrs: Option<&'a BTreeMap<String, String>>,
    pub now: i64,
    /// The zone of dates written without an offset and of `date_spec`
    /// fields (Pacemaker's local time zone).
    pub tz: &'a TimeZone,
    /// The zone `now` was given in when it is not `tz`: `date_spec` reads
    /// `now`'s fields there (crm_simulate's `-t` with an explicit offset keeps
    /// that offset, `pe_cron_range_satisfied` reads the fields as stored).
    pub now_zone: Option<&'a TimeZone>,
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
            tz: &UTC,
            now_zone: None,
            rsc: None,
            op: None,
            role: None,
            rsc_params: None,
            rsc_meta: None,
        }
    }

    /// The same context in time zone `tz`.
    pub fn in_zone(self, tz: &'a TimeZone) -> Self {
        RuleContext { tz, ..self }
    }

    /// The same context with `now` given in `zone` (see [`RuleContext::now_zone`]).
    pub fn with_now_zone(self, zone: Option<&'a TimeZone>) -> Self {
        RuleContext { now_zone: zone, ..self }
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
        } => eval_date(ctx, operation, start, end, spec, duration),
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

/// `pe__eval_date_expr` (lib/pengine/rules.c): `in_range` (the default)
/// needs a start or an end (an end may come from the start and a
/// `duration`), `gt` a start, `lt` an end; an unreadable date counts as
/// missing.
fn eval_date(
    ctx: &RuleContext<'_>,
    operation: &str,
    start: &Option<String>,
    end: &Option<String>,
    spec: &Option<Vec<(CompactString, CompactString)>>,
    duration: &Option<Vec<(CompactString, CompactString)>>,
) -> bool {
    let now = ctx.now;
    let start_t = start.as_deref().and_then(|s| parse_datetime_in(s, ctx.tz));
    let mut end_t = end.as_deref().and_then(|s| parse_datetime_in(s, ctx.tz));
    match operation {
        "gt" => start_t.is_some_and(|s| now > s),
        "lt" => end_t.is_some_and(|e| now < e),
        "date_spec" => spec
            .as_ref()
            .is_some_and(|s| date_spec_matches(now, ctx.now_zone.unwrap_or(ctx.tz), s)),
        _ => {
            if end_t.is_none() {
                if let (Some(s), Some(d)) = (start_t, duration.as_ref()) {
                    end_t = time::add_duration(s, ctx.tz, d);
                }
            }
            (start_t.is_some() || end_t.is_some()) && start_t.is_none_or(|s| now >= s) && end_t.is_none_or(|e| now <= e)
        }
    }
}

/// `pe_cron_range_satisfied`: every field given holds. A field is a number
/// or a range (`N-M`, `N-`, `-M`); one Pacemaker cannot read
/// (`pcmk__parse_ll_range`) is ignored, as are unknown fields.
fn date_spec_matches(now: i64, tz: &TimeZone, spec: &[(CompactString, CompactString)]) -> bool {
    spec.iter().all(|(k, v)| {
        let Some(value) = time::spec_field(now, tz, k) else {
            return true;
        };
        match parse_range(v) {
            Some((low, high)) => low.is_none_or(|l| value >= l) && high.is_none_or(|h| value <= h),
            None => true,
        }
    })
}

/// `pcmk__parse_ll_range`: `N` (low = high), `N-M`, `N-` or `-M`.
fn parse_range(s: &str) -> Option<(Option<i64>, Option<i64>)> {
    let num = |x: &str| x.parse::<i64>().ok();
    if s.is_empty() || s == "-" {
        return None;
    }
    if let Some(rest) = s.strip_prefix('-') {
        return Some((None, Some(num(rest)?)));
    }
    match s.split_once('-') {
        None => {
            let n = num(s)?;
            Some((Some(n), Some(n)))
        }
        Some((a, "")) => Some((Some(num(a)?), None)),
        Some((a, b)) => Some((Some(num(a)?), Some(num(b)?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_datetime;

    #[test]
    fn date_spec_ranges_as_pacemaker_reads_them() {
        assert_eq!(parse_range("5"), Some((Some(5), Some(5))));
        assert_eq!(parse_range("1-5"), Some((Some(1), Some(5))));
        assert_eq!(parse_range("9-"), Some((Some(9), None)));
        assert_eq!(parse_range("-3"), Some((None, Some(3))));
        assert_eq!(parse_range("1,3"), None);
        // Thursday 20 January 2005, 12:30 UTC; 13:30 in Berlin.
        let now = parse_datetime("2005-01-20T12:30Z").expect("date");
        let spec = |pairs: &[(&str, &str)]| -> Vec<(CompactString, CompactString)> {
            pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        let utc = TimeZone::UTC;
        assert!(date_spec_matches(
            now,
            &utc,
            &spec(&[("weekdays", "1-5"), ("hours", "9-17")])
        ));
        assert!(!date_spec_matches(now, &utc, &spec(&[("weekdays", "6-")])));
        assert!(
            date_spec_matches(now, &utc, &spec(&[("hours", "1,3")])),
            "unreadable: ignored"
        );
        let berlin = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("POSIX TZ rule");
        assert!(!date_spec_matches(now, &utc, &spec(&[("hours", "13")])));
        assert!(date_spec_matches(now, &berlin, &spec(&[("hours", "13")])));
    }

    #[test]
    fn date_spec_reads_now_in_the_zone_it_was_given_in() {
        // 20:00 UTC on Tuesday 14 January 2020 is 01:30 on Wednesday in
        // India. A "now" given as `...Z` keeps UTC (crm_simulate -t), one
        // from the clock or the CIB's execution-date is local time.
        let kolkata = TimeZone::posix("IST-5:30").expect("POSIX TZ rule");
        let utc = TimeZone::UTC;
        let now = parse_datetime("2020-01-14T20:00:00Z").expect("date");
        let wednesday = Some(vec![("weekdays".into(), "3".into())]);
        let local = RuleContext::new(now).in_zone(&kolkata);
        assert!(eval_date(&local, "date_spec", &None, &None, &wednesday, &None));
        let given_in_utc = RuleContext {
            now_zone: Some(&utc),
            ..local
        };
        assert!(!eval_date(&given_in_utc, "date_spec", &None, &None, &wednesday, &None));
        // Dates in the rule without an offset stay local either way.
        let start = Some("2020-01-15 00:00:00".to_string());
        let six_hours = Some(vec![("hours".into(), "6".into())]);
        assert!(eval_date(&given_in_utc, "in_range", &start, &None, &None, &six_hours));
    }

    #[test]
    fn in_range_needs_a_start_or_an_end() {
        let ctx = RuleContext::new(parse_datetime("2005-01-20").expect("date"));
        let d = |s: &str| Some(s.to_string());
        assert!(eval_date(&ctx, "in_range", &d("2005-01-01"), &None, &None, &None));
        assert!(!eval_date(&ctx, "in_range", &None, &None, &None, &None));
        let month = Some(vec![("months".into(), "1".into())]);
        assert!(eval_date(&ctx, "in_range", &d("2005-01-01"), &None, &None, &month));
        assert!(!eval_date(&ctx, "in_range", &d("2004-12-01"), &None, &None, &month));
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
