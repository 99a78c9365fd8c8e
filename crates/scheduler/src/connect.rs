//! A resource-level ordering expanded into orderings between actions: a
//! collective "first" by its completed pseudo-action, a clone "then" also
//! per instance, a group "then" also per member.

use crate::action_set::{flags, is_group, ActionSet};
use crate::model::{Cluster, RscIdx, Variant};

/// Orders `first`'s `first_task` before `then`'s `then_task` with flags `fl`.
pub(crate) fn connect(
    s: &mut ActionSet,
    c: &Cluster,
    first: RscIdx,
    first_task: &str,
    then: RscIdx,
    then_task: &str,
    fl: u32,
) {
    let firsts: Vec<usize> = if is_group(c, first) {
        s.find(Some(first), first_task, 0, None).into_iter().collect()
    } else {
        s.of(first, first_task)
    };
    let thens: Vec<usize> = if is_group(c, then) {
        s.find(Some(then), then_task, 0, None).into_iter().collect()
    } else {
        s.of(then, then_task)
    };
    // An ordering with a clone as "then" also applies to each instance
    // (`pcmk__multi_update_actions`); the clone's own action has no node,
    // so "first" is summarised over all its instances for these too.
    if matches!(c.rscs[then].variant, Variant::Clone { .. }) {
        // Pacemaker updates only runnable instance actions, so an
        // implied "first" (a migration's) is not affected by them.
        let inst_fl = (fl & !flags::IMPLIES_FIRST) | flags::WHOLE_FIRST | flags::MEMBER;
        for t in crate::clone_order::instance_actions(s, c, then, then_task) {
            for &f in &firsts {
                s.order(f, t, inst_fl);
            }
        }
    }
    for &f in &firsts {
        for &t in &thens {
            s.order(f, t, fl);
        }
    }
    // An ordering with a group as "then" applies its flags to each member
    // (`pcmk__group_update_ordered_actions`); in the graph the members wait
    // for the group's own pseudo-action only.
    if matches!(c.rscs[then].variant, Variant::Group) && matches!(then_task, "start" | "stop" | "promote" | "demote") {
        for &k in &c.rscs[then].children {
            if c.rscs[k].is_primitive() {
                for t in s.of(k, then_task) {
                    for &f in &firsts {
                        s.order(f, t, fl | flags::MEMBER);
                    }
                }
            }
        }
    }
}
