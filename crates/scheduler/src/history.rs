//! Where a resource's operation history is in a node's status.

use crate::model::{NodeIdx, Rsc};

/// The `lrm_resource` on node `n` whose history was mapped to `rs`.
pub(crate) fn history_entry<'a>(st: &'a cib::NodeState, rs: &Rsc, n: NodeIdx) -> Option<&'a cib::LrmResource> {
    let base = rs.id.split(':').next().unwrap_or(&rs.id);
    let mapped = rs.history_ids.iter().find(|(m, _)| *m == n).map(|(_, id)| id.as_str());
    st.lrm
        .iter()
        .find(|l| Some(l.id.as_str()) == mapped)
        .or_else(|| st.lrm.iter().find(|l| l.id == rs.id || l.id == base))
}
