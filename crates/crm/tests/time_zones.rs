//! Rules' dates in time zones, against crm_simulate 2.1.5: `data/time-zones.xml`
//! places `day` by a `date_spec` on hours, `week` by one on weekdays and
//! `span` by an `in_range` with a start written without an offset and a
//! duration. crm_simulate read the rules in the local zone (`TZ`) and a
//! `-t` "now" at the offset written in it, local time when it has none; the
//! expected placements are what it printed (`TZ=... crm_simulate -S -x
//! time-zones.xml -t ...`).

use cib::time::{explicit_zone, parse_datetime_in, TimeZone};
use cib::Cib;
use crm::simulate::simulate;
use scheduler::Options;

/// Where `rsc` starts, from the transition summary.
fn started_on(summary: &str, rsc: &str) -> Option<String> {
    summary.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.get(1) == Some(&"Start") && w.get(2) == Some(&rsc)).then(|| w.get(4).map(|n| n.to_string()))?
    })
}

#[test]
fn dates_read_in_the_local_zone_and_now_at_its_own_offset_as_crm_simulate_does() {
    let cib = Cib::parse(include_str!("data/time-zones.xml")).expect("test CIB parses");
    // (TZ, -t, where day, span and week start)
    let cases = [
        ("IST-5:30", "2020-01-15T10:00:00Z", ["node1", "node1", "node2"]),
        ("IST-5:30", "2020-01-15 10:00:00", ["node1", "node1", "node2"]),
        ("IST-5:30", "2020-01-14T20:00:00Z", ["node2", "node2", "node1"]),
        ("IST-5:30", "2020-01-15T05:00:00Z", ["node2", "node1", "node2"]),
        ("SST11", "2020-01-15T10:00:00Z", ["node1", "node1", "node2"]),
        ("SST11", "2020-01-15 10:00:00", ["node1", "node1", "node2"]),
        ("SST11", "2020-01-14T20:00:00Z", ["node2", "node1", "node1"]),
        ("SST11", "2020-01-15T05:00:00Z", ["node2", "node1", "node2"]),
    ];
    for (tz, t, expected) in cases {
        let zone = TimeZone::posix(tz).expect("POSIX TZ rule");
        let now = parse_datetime_in(t, &zone).expect("date");
        let opts = Options::at(now).in_zone(zone).with_now_zone(explicit_zone(t));
        let sim = simulate(&cib, &opts);
        let got: Vec<Option<String>> = ["day", "span", "week"]
            .iter()
            .map(|r| started_on(&sim.summary_text, r))
            .collect();
        let want: Vec<Option<String>> = expected.iter().map(|n| Some(n.to_string())).collect();
        assert_eq!(got, want, "TZ={tz} -t {t}:\n{}", sim.summary_text);
    }
}
