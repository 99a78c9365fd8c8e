//! The order of a resource's history entries (`pe__is_newer_op`,
//! `sort_op_by_callid`): by call id on one node; by last-rc-change across
//! nodes or for an operation and its recorded failure; a pending entry
//! (call id -1) against another by the transitions in their
//! `transition-magic`, so a stop the controller ran after a start that
//! stayed pending sorts after it.
//!
//! The comparison is not a total order (pending entries compare by
//! transition, the rest by call id), so entries are sorted with GLib's
//! list merge sort, as Pacemaker sorts them: the same input gives the same
//! order, and the sort cannot panic on it as `slice::sort_by` may.

use std::cmp::Ordering;

use cib::LrmOp;

/// `pe__is_newer_op`: `Greater` when `a` happened after `b`.
/// `same_node_default` applies when either entry does not name its node.
pub(crate) fn is_newer(a: &LrmOp, b: &LrmOp, same_node_default: bool) -> Ordering {
    let same_node = match (&a.on_node, &b.on_node) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => same_node_default,
    };
    // Duplicate entries of one id: no order between them.
    if same_node && a.id == b.id {
        return Ordering::Equal;
    }
    let (ca, cb) = (a.call_id, b.call_id);
    if ca == -1 && cb == -1 {
        Ordering::Equal
    } else if same_node && ca >= 0 && ca < cb {
        Ordering::Less
    } else if same_node && cb >= 0 && ca > cb {
        Ordering::Greater
    } else if ca >= 0 && cb >= 0 && (!same_node || ca == cb) {
        cmp_last_rc_change(a, b)
    } else {
        by_transition(a, b)
    }
}

/// One of the two is pending: the transition that asked for each decides
/// (`[a|b]_id == -1` is a shutdown's or a simulation's and comes last).
fn by_transition(a: &LrmOp, b: &LrmOp) -> Ordering {
    let (Some((ua, ta)), Some((ub, tb))) = (magic_transition(a), magic_transition(b)) else {
        return Ordering::Equal;
    };
    if !ua.eq_ignore_ascii_case(ub) || ta == tb {
        if b.call_id == -1 {
            Ordering::Less
        } else if a.call_id == -1 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    } else if (ta >= 0 && ta < tb) || tb == -1 {
        Ordering::Less
    } else if (tb >= 0 && ta > tb) || ta == -1 {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// The controller's UUID and the transition id in an entry's
/// `transition-magic` (`decode_transition_magic`: `status:rc;action:transition:target_rc:uuid`).
fn magic_transition(op: &LrmOp) -> Option<(&str, i64)> {
    let (_, key) = op.transition_magic.as_deref()?.split_once(';')?;
    let mut fields = key.splitn(4, ':');
    let _action: i64 = fields.next()?.trim().parse().ok()?;
    let transition: i64 = fields.next()?.trim().parse().ok()?;
    let _target_rc: i64 = fields.next()?.trim().parse().ok()?;
    Some((fields.next()?, transition))
}

/// By last-rc-change, where recorded; equal when either has none to compare.
pub(crate) fn cmp_last_rc_change(a: &LrmOp, b: &LrmOp) -> Ordering {
    let (la, lb) = (a.last_rc_change.unwrap_or(-1), b.last_rc_change.unwrap_or(-1));
    if la >= 0 && la < lb {
        Ordering::Less
    } else if lb >= 0 && la > lb {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// A node's history entries of one resource, oldest first
/// (`sort_op_by_callid`). Pacemaker lists them in reverse document order
/// first (`g_list_prepend` in `unpack_lrm_resource` and
/// `rsc_history_as_list`), which decides between entries that compare
/// equal: an operation and its recorded failure, say.
pub(crate) fn sorted_by_call_id(ops: &[LrmOp]) -> Vec<&LrmOp> {
    let mut sorted: Vec<&LrmOp> = ops.iter().rev().collect();
    if sorted.len() > 1 {
        let mut scratch = Vec::with_capacity(sorted.len());
        list_sort(&mut sorted, &mut scratch, &|a, b| is_newer(a, b, true));
    }
    sorted
}

/// `g_list_sort`: a top-down merge sort that splits after the first half
/// (rounded down) and takes from the left on `Equal`.
fn list_sort<T: Copy>(items: &mut [T], scratch: &mut Vec<T>, cmp: &dyn Fn(T, T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mid = items.len() / 2;
    list_sort(&mut items[..mid], scratch, cmp);
    list_sort(&mut items[mid..], scratch, cmp);
    scratch.clear();
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        if cmp(items[i], items[j]) != Ordering::Greater {
            scratch.push(items[i]);
            i += 1;
        } else {
            scratch.push(items[j]);
            j += 1;
        }
    }
    scratch.extend_from_slice(&items[i..mid]);
    scratch.extend_from_slice(&items[j..]);
    items.copy_from_slice(scratch);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str, call_id: i64, magic: &str) -> LrmOp {
        LrmOp {
            id: id.into(),
            operation: "start".into(),
            call_id,
            transition_magic: Some(magic.into()),
            ..LrmOp::default()
        }
    }

    const UUID: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    #[test]
    fn call_ids_order_one_node() {
        let (a, b) = (op("a", 3, "0:0;3:1:0:u"), op("b", 5, "0:0;5:1:0:u"));
        assert_eq!(is_newer(&a, &b, true), Ordering::Less);
        assert_eq!(is_newer(&b, &a, true), Ordering::Greater);
    }

    #[test]
    fn entries_of_one_call_id_keep_reverse_document_order() {
        // An operation and its recorded failure: equal, so the order
        // Pacemaker listed them in (`g_list_prepend`) stays.
        let ops = [
            op("r_last_0", 12, "0:1;12:-1:0:u"),
            op("r_last_failure_0", 12, "0:1;12:-1:0:u"),
        ];
        let sorted: Vec<&str> = sorted_by_call_id(&ops).iter().map(|o| o.id.as_str()).collect();
        assert_eq!(sorted, ["r_last_failure_0", "r_last_0"]);
    }

    #[test]
    fn a_simulated_stop_comes_after_a_pending_start_of_an_earlier_transition() {
        // crm_simulate's results carry transition -1: they come last.
        let pending = op("start", -1, &format!("0:0;-1:9:0:{UUID}"));
        let stop = op("last", 1, &format!("0:0;1:-1:0:{UUID}"));
        assert_eq!(is_newer(&pending, &stop, true), Ordering::Less);
        let both = [stop, pending];
        assert_eq!(sorted_by_call_id(&both)[1].id, "last");
    }

    #[test]
    fn a_pending_entry_is_newer_than_one_of_another_controller() {
        let pending = op("p", -1, "0:0;-1:9:0:aaaa");
        let done = op("d", 4, "0:0;4:12:0:bbbb");
        assert_eq!(is_newer(&pending, &done, true), Ordering::Greater);
        assert_eq!(is_newer(&done, &pending, true), Ordering::Less);
    }

    #[test]
    fn a_pending_entry_of_an_earlier_transition_is_older() {
        let pending = op("p", -1, "0:0;-1:9:0:u");
        let later = op("d", 4, "0:0;4:12:0:u");
        assert_eq!(is_newer(&pending, &later, true), Ordering::Less);
        let earlier = op("e", 2, "0:0;2:3:0:u");
        assert_eq!(is_newer(&pending, &earlier, true), Ordering::Greater);
    }

    #[test]
    fn without_magic_a_pending_entry_is_not_ordered() {
        let mut pending = op("p", -1, "");
        pending.transition_magic = None;
        assert_eq!(is_newer(&pending, &op("d", 4, "0:0;4:12:0:u"), true), Ordering::Equal);
    }

    #[test]
    fn the_sort_is_glibs_merge_sort_even_for_an_inconsistent_order() {
        // Two pending entries are equal to each other, yet ordered against
        // the third by different rules: the merge decides, never a panic.
        let ops = [
            op("p2", -1, "0:0;-1:2:0:u"),
            op("d", 4, "0:0;4:5:0:u"),
            op("p1", -1, "0:0;-1:9:0:u"),
        ];
        let sorted: Vec<&str> = sorted_by_call_id(&ops).iter().map(|o| o.id.as_str()).collect();
        // Listed in reverse, [p1, d, p2], split into [p1] and [d, p2]; the
        // right half sorts to [p2, d] (p2's transition is earlier); then
        // p1 against p2, both pending, is equal, so p1 stays first although
        // its transition is d's successor.
        assert_eq!(sorted, ["p1", "p2", "d"]);
    }
}
