//! ISO 8601 dates as Pacemaker reads them (`crm_time_t`, lib/common/iso8601.c),
//! on `jiff`'s calendar and time zones. Times are seconds since the epoch; a
//! date written without an offset is in the given time zone (Pacemaker takes
//! the local one), and date specs and durations work on the civil time in
//! that zone.

use jiff::civil::{Date, DateTime, ISOWeekDate, Weekday};
use jiff::tz::Offset;
pub use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::CompactString;

/// The host's local time zone, as the C library takes it: `TZ` (a POSIX
/// rule such as `CET-1CEST,M3.5.0,M10.5.0/3`, or a zone name looked up in
/// the zone database), else `/etc/localtime`, else UTC. Read directly rather
/// than through `TimeZone::system`, which lists the whole zone database
/// first: that doubled the start-up time of a one-shot `ferrosync-simulate`.
pub fn local_zone() -> TimeZone {
    match std::env::var("TZ") {
        Ok(tz) => zone_named(&tz),
        Err(_) => std::fs::read("/etc/localtime")
            .ok()
            .and_then(|data| TimeZone::tzif("localtime", &data).ok())
            .unwrap_or(TimeZone::UTC),
    }
}

/// The zone a `TZ` value names: a POSIX rule, else a zone name, else UTC
/// (as the C library falls back for a value it cannot read).
fn zone_named(tz: &str) -> TimeZone {
    let tz = tz.trim_start_matches(':');
    if tz.is_empty() {
        return TimeZone::UTC;
    }
    TimeZone::posix(tz)
        .or_else(|_| TimeZone::get(tz))
        .unwrap_or(TimeZone::UTC)
}

/// The civil time of `t` in `tz`, with the offset it has there.
fn civil(t: i64, tz: &TimeZone) -> Option<(DateTime, Offset)> {
    let ts = Timestamp::from_second(t).ok()?;
    let offset = tz.to_offset(ts);
    Some((offset.to_datetime(ts), offset))
}

/// Parses the ISO 8601 forms Pacemaker accepts: a calendar date
/// (`2005-01-20`, also `2005-01` and `2005`), an ordinal date (`2005-020`) or a
/// week date (`2005-W03-4`), optionally followed by `T` or a space and a time
/// (`12`, `12:30`, `12:30:00`, fractions ignored) with `Z` or an offset
/// (`+02:00`, `-0530`, `+02`). Without an offset the time is civil time in
/// `tz`. Epoch seconds, or `None` for anything else.
pub fn parse_datetime_in(s: &str, tz: &TimeZone) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let date = parse_date(date)?;
    let (clock, offset) = match time {
        None => ((0, 0, 0), None),
        Some(t) => parse_time(t)?,
    };
    let dt = date.to_datetime(jiff::civil::Time::new(clock.0, clock.1, clock.2, 0).ok()?);
    let ts = match offset {
        Some(o) => o.to_timestamp(dt).ok()?,
        None => tz.to_ambiguous_timestamp(dt).compatible().ok()?,
    };
    Some(ts.as_second())
}

/// The zone a date written with an explicit offset (`Z`, `+02:00`) keeps:
/// Pacemaker reads such a "now" at that offset, whatever the local zone.
/// `None` for a date without one.
pub fn explicit_zone(s: &str) -> Option<TimeZone> {
    let (_, time) = s.trim().split_once(['T', ' '])?;
    let (_, offset) = parse_time(time.trim())?;
    offset.map(TimeZone::fixed)
}

/// [`parse_datetime_in`] UTC.
pub fn parse_datetime(s: &str) -> Option<i64> {
    parse_datetime_in(s, &TimeZone::UTC)
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<Date> {
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y, w, d] if w.starts_with('W') => {
            let weekday = Weekday::from_monday_one_offset(number(d)?).ok()?;
            ISOWeekDate::new(number(y)?, number(&w[1..])?, weekday)
                .ok()
                .map(ISOWeekDate::date)
        }
        [y, w] if w.starts_with('W') => ISOWeekDate::new(number(y)?, number(&w[1..])?, Weekday::Monday)
            .ok()
            .map(ISOWeekDate::date),
        [y, doy] if doy.len() == 3 => Date::new(number(y)?, 1, 1)
            .ok()?
            .with()
            .day_of_year(number(doy)?)
            .build()
            .ok(),
        [y, m, d] => Date::new(number(y)?, number(m)?, number(d)?).ok(),
        [y, m] => Date::new(number(y)?, number(m)?, 1).ok(),
        [y] if y.len() == 4 => Date::new(number(y)?, 1, 1).ok(),
        _ => None,
    }
}

/// `HH[:MM[:SS[.frac]]]` and an optional `Z` or offset.
fn parse_time(t: &str) -> Option<((i8, i8, i8), Option<Offset>)> {
    let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
        (c, Some(Offset::UTC))
    } else if let Some(pos) = t.rfind(['+', '-']) {
        let (c, off) = t.split_at(pos);
        (c.trim_end(), Some(parse_offset(off)?))
    } else {
        (t, None)
    };
    let f: Vec<&str> = clock.split(':').collect();
    let field = |i: usize| -> Option<i8> { f.get(i).map_or(Some(0), |x| number(x.split('.').next().unwrap_or(""))) };
    if f.len() > 3 {
        return None;
    }
    Some(((field(0)?, field(1)?, field(2)?), offset))
}

/// `+HH:MM`, `-HHMM` or `+HH`.
fn parse_offset(off: &str) -> Option<Offset> {
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits = &off[1..];
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None => (digits, "0"),
    };
    let secs = number::<i32>(h)? * 3600 + number::<i32>(m)? * 60;
    Offset::from_seconds(sign * secs).ok()
}

/// One field of a `date_spec` (`pe_cron_range_satisfied`,
/// lib/pengine/rules.c:237-277), read from `now`'s civil time in `tz`: the
/// Gregorian date, the time of day, the ordinal day, the ISO week-year, week
/// and weekday (Monday 1), and the phase of the moon. `None` for a field
/// Pacemaker does not know.
pub fn spec_field(now: i64, tz: &TimeZone, field: &str) -> Option<i64> {
    let (dt, _) = civil(now, tz)?;
    let date = dt.date();
    let week = date.iso_week_date();
    Some(match field {
        "years" => i64::from(date.year()),
        "months" => i64::from(date.month()),
        "monthdays" => i64::from(date.day()),
        "hours" => i64::from(dt.hour()),
        "minutes" => i64::from(dt.minute()),
        "seconds" => i64::from(dt.second()),
        "yeardays" => i64::from(date.day_of_year()),
        "weekyears" => i64::from(week.year()),
        "weeks" => i64::from(week.week()),
        "weekdays" => i64::from(week.weekday().to_monday_one_offset()),
        "moon" => phase_of_the_moon(date),
        _ => return None,
    })
}

/// `phase_of_the_moon` (lib/pengine/rules.c): 0 (new) to 7.
fn phase_of_the_moon(date: Date) -> i64 {
    let y = i64::from(date.year());
    let diy = i64::from(date.day_of_year());
    let goldn = (y % 19) + 1;
    let mut epact = (11 * goldn + 18) % 30;
    if (epact == 25 && goldn > 11) || epact == 24 {
        epact += 1;
    }
    ((((diy + epact) * 6) + 11) % 177 / 22) & 7
}

/// `start` plus a `<duration>` (`pe_parse_xml_duration`): years, months,
/// weeks, days, hours, minutes and seconds, in that order whatever order
/// they are written in, on the civil time at `start`'s offset in `tz` (a
/// `crm_time_t` keeps one offset). Adding years keeps the day of the year
/// (`crm_time_add_years`); adding months keeps the day of the month, or the
/// month's last day (`crm_time_add_months`). `None` past the calendar's range.
pub fn add_duration(start: i64, tz: &TimeZone, duration: &[(CompactString, CompactString)]) -> Option<i64> {
    let (mut dt, offset) = civil(start, tz)?;
    let amount = |name: &str| -> i64 {
        duration
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let years = amount("years");
    if years != 0 {
        let date = dt.date();
        let year = i16::try_from(i64::from(date.year()) + years).ok()?;
        let moved = Date::new(year, 1, 1)
            .ok()?
            .checked_add(Span::new().days(date.day_of_year() - 1))
            .ok()?;
        dt = moved.to_datetime(dt.time());
    }
    dt = dt.checked_add(Span::new().try_months(amount("months")).ok()?).ok()?;
    let days = amount("weeks").checked_mul(7)?.checked_add(amount("days"))?;
    dt = dt.checked_add(Span::new().try_days(days).ok()?).ok()?;
    let seconds = amount("hours")
        .checked_mul(3600)?
        .checked_add(amount("minutes").checked_mul(60)?)?
        .checked_add(amount("seconds"))?;
    let ts = offset.to_timestamp(dt).ok()?;
    ts.as_second().checked_add(seconds)
}

/// `YYYY-MM-DD HH:MM:SSZ`, as `crm_time_as_string` writes a UTC time.
pub fn iso_utc(t: i64) -> String {
    match civil(t, &TimeZone::UTC) {
        Some((dt, _)) => dt.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => t.to_string(),
    }
}

/// `ctime`-style text of an epoch time in UTC (`Fri Jul 13 13:50:59 2012`),
/// as `pcmk__epoch2str` prints it with `TZ=UTC` (crm_mon, `cib-last-written`).
pub fn ctime(t: i64) -> String {
    match civil(t, &TimeZone::UTC) {
        Some((dt, _)) => dt.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central European time as a POSIX rule (no zone database needed).
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("POSIX TZ rule")
    }

    #[test]
    fn tz_values_read_as_the_c_library_reads_them() {
        let summer = parse_datetime("2005-07-20T12:00Z").expect("date");
        let offset = |tz: &TimeZone| tz.to_offset(Timestamp::from_second(summer).expect("time")).seconds();
        assert_eq!(offset(&zone_named("CET-1CEST,M3.5.0,M10.5.0/3")), 7200);
        assert_eq!(offset(&zone_named(":EST5")), -5 * 3600);
        assert_eq!(offset(&zone_named("")), 0);
        assert_eq!(offset(&zone_named("no such zone, no such rule")), 0);
    }

    #[test]
    fn iso_forms_pacemaker_writes() {
        let utc = TimeZone::UTC;
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-001"), Some(0));
        assert_eq!(parse_datetime("2005-020"), parse_datetime("2005-01-20"));
        assert_eq!(parse_datetime("2005-020T12:30"), Some(1_106_224_200));
        assert_eq!(
            parse_datetime("2014-05-07 00:28:00"),
            parse_datetime("2014-05-07T00:28:00Z")
        );
        assert_eq!(
            parse_datetime("2005-01-20T14:30:00+02:00"),
            parse_datetime("2005-01-20T12:30")
        );
        assert_eq!(
            parse_datetime("2005-01-20T14:30:00+0200"),
            parse_datetime("2005-01-20T12:30")
        );
        // 2005-W03-4 is Thursday 20 January 2005.
        assert_eq!(parse_datetime_in("2005-W03-4", &utc), parse_datetime("2005-01-20"));
        for bad in [
            "",
            "20x5-01-01",
            "2005-13-01",
            "2005-01-20T25:00",
            "2005-367",
            "tomorrow",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_explicit_offset_is_kept_as_the_date_s_zone() {
        let z = explicit_zone("2020-01-14T20:00:00Z").expect("zone");
        assert_eq!(z.to_fixed_offset().expect("fixed"), Offset::UTC);
        let z = explicit_zone("2019-09-23 18:00:00 -05:00").expect("zone");
        assert_eq!(z.to_fixed_offset().expect("fixed").seconds(), -5 * 3600);
        assert!(explicit_zone("2020-01-14T20:00").is_none());
        assert!(explicit_zone("2020-01-14").is_none());
    }

    #[test]
    fn a_date_without_an_offset_is_civil_time_in_the_zone() {
        let berlin = berlin();
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(
            parse_datetime_in("2005-01-20T12:30", &berlin),
            parse_datetime("2005-01-20T11:30Z")
        );
        assert_eq!(
            parse_datetime_in("2005-07-20T12:30", &berlin),
            parse_datetime("2005-07-20T10:30Z")
        );
        assert_eq!(
            parse_datetime_in("2005-07-20T12:30Z", &berlin),
            parse_datetime("2005-07-20T12:30Z")
        );
    }

    #[test]
    fn date_spec_fields_are_read_in_the_zone_with_iso_weeks() {
        let t = parse_datetime("2009-12-31T23:30:00Z").expect("date");
        let utc = TimeZone::UTC;
        assert_eq!(spec_field(t, &utc, "years"), Some(2009));
        assert_eq!(spec_field(t, &utc, "hours"), Some(23));
        assert_eq!(spec_field(t, &utc, "yeardays"), Some(365));
        // 31 December 2009 is a Thursday of ISO week 53 of 2009.
        assert_eq!(spec_field(t, &utc, "weekdays"), Some(4));
        assert_eq!(spec_field(t, &utc, "weeks"), Some(53));
        assert_eq!(spec_field(t, &utc, "weekyears"), Some(2009));
        // An hour later in Berlin it is already 2010, week 53 of 2009 still.
        let berlin = berlin();
        assert_eq!(spec_field(t, &berlin, "years"), Some(2010));
        assert_eq!(spec_field(t, &berlin, "hours"), Some(0));
        assert_eq!(spec_field(t, &berlin, "weekyears"), Some(2009));
        assert_eq!(spec_field(t, &utc, "weekyear"), None);
        assert!((0..=7).contains(&spec_field(t, &utc, "moon").expect("moon")));
    }

    #[test]
    fn durations_add_in_pacemaker_s_order_and_clamp_months() {
        let utc = TimeZone::UTC;
        let d = |pairs: &[(&str, &str)]| -> Vec<(CompactString, CompactString)> {
            pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        };
        let at = |s: &str| parse_datetime(s).expect("date");
        assert_eq!(
            add_duration(at("2005-01-31"), &utc, &d(&[("months", "1")])),
            Some(at("2005-02-28"))
        );
        // Days after months whatever the order written: 31 Jan + 1 month = 28 Feb, + 1 day.
        let both = d(&[("days", "1"), ("months", "1")]);
        assert_eq!(add_duration(at("2005-01-31"), &utc, &both), Some(at("2005-03-01")));
        // Years keep the ordinal day: day 60 of 2004 (29 Feb) is 1 March in 2005.
        assert_eq!(
            add_duration(at("2004-02-29"), &utc, &d(&[("years", "1")])),
            Some(at("2005-03-01"))
        );
        assert_eq!(
            add_duration(at("2005-01-20T12:00"), &utc, &d(&[("hours", "13"), ("minutes", "-30")])),
            Some(at("2005-01-21T00:30"))
        );
        // A whole day is 24 hours at the start's offset, across a DST change too.
        let berlin = berlin();
        let start = parse_datetime_in("2005-03-26T12:00", &berlin).expect("date");
        assert_eq!(add_duration(start, &berlin, &d(&[("days", "1")])), Some(start + 86_400));
    }

    #[test]
    fn utc_texts() {
        assert_eq!(iso_utc(951_868_800), "2000-03-01 00:00:00Z");
        assert_eq!(iso_utc(1_342_187_459), "2012-07-13 13:50:59Z");
        assert_eq!(ctime(1_342_187_459), "Fri Jul 13 13:50:59 2012");
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    }
}
