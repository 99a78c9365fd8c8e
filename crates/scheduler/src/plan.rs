//! What the scheduler takes besides the CIB ([`Options`]) and what it
//! returns in detail ([`Schedule`]).

use crate::action_set::{Action, Edge};
use crate::model::Cluster;
use cib::time::TimeZone;
use cib::Cib;

/// Scheduler inputs besides the CIB. The scheduler reads no clock: the
/// caller says what time it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Effective "now" in seconds since the epoch.
    pub now: i64,
    /// The zone rules read dates in: Pacemaker's local time zone (UTC
    /// unless the caller says).
    pub tz: TimeZone,
    /// The zone `now` was given in, when not `tz` (a date with an explicit
    /// offset): `date_spec` reads `now`'s fields there.
    pub now_zone: Option<TimeZone>,
}

impl Options {
    /// "Now" as `crm_simulate` chooses it: `date` (its `-t`), else the
    /// CIB's `execution-date`, else `clock()` (the caller's current time);
    /// dates in UTC.
    pub fn for_cib(cib: &Cib, date: Option<i64>, clock: impl FnOnce() -> i64) -> Options {
        Options {
            now: date.or(cib.execution_date).unwrap_or_else(clock),
            tz: TimeZone::UTC,
            now_zone: None,
        }
    }

    /// At `now` with dates in UTC.
    pub fn at(now: i64) -> Options {
        Options {
            now,
            tz: TimeZone::UTC,
            now_zone: None,
        }
    }

    /// The same options with rules' dates in time zone `tz`.
    pub fn in_zone(self, tz: TimeZone) -> Options {
        Options { tz, ..self }
    }

    /// The same options with `now` read in `zone` (see [`Options::now_zone`]).
    pub fn with_now_zone(self, zone: Option<TimeZone>) -> Options {
        Options { now_zone: zone, ..self }
    }
}

/// Everything the scheduler computed, for display and execution.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The cluster as unpacked, with assignments and next roles filled in.
    pub cluster: Cluster,
    pub actions: Vec<Action>,
    pub edges: Vec<Edge>,
}
