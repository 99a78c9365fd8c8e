//! Where a resource's operation history is in a node's status.

use crate::ids::clone_strip;
use crate::model::{NodeIdx, Rsc};

/// The `lrm_resource` on node `n` whose history was mapped to `rs`. When
/// several entries were mapped to it there (an anonymous instance's
/// history under another instance number, renamed), the one with its own
/// id, else the first. (Configuration changes are checked in every entry
/// named like the resource or its `clone_name`, `pcmk__rscs_matching_id`
/// in `process_node_history`; `params_changed` adds those.)
pub(crate) fn history_entry<'a>(st: &'a cib::NodeState, rs: &Rsc, n: NodeIdx) -> Option<&'a cib::LrmResource> {
    let base = clone_strip(&rs.id);
    let mut mapped = rs
        .observed
        .history_ids
        .iter()
        .filter(|(m, _)| *m == n)
        .map(|(_, id)| id.as_str());
    let first = mapped.next();
    if mapped.any(|id| id == rs.id) {
        if let Some(own) = st.lrm.iter().find(|l| l.id == rs.id) {
            return Some(own);
        }
    }
    st.lrm
        .iter()
        .find(|l| Some(l.id.as_str()) == first)
        .or_else(|| st.lrm.iter().find(|l| l.id == rs.id || l.id == base))
}
