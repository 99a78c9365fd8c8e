//! Results written into the typed status ([`cib::Status`]), which the
//! scheduler reads directly.

use cib::{LrmOp, LrmResource, NodeState, Status};
use scheduler::graph_details::Agent;

use super::results::HistoryStore;

impl HistoryStore for Status {
    fn node_state(&mut self, uname: &str, uuid: Option<&str>) -> usize {
        if let Some(i) = self.nodes.iter().position(|n| n.uname.as_deref() == Some(uname)) {
            return i;
        }
        self.nodes.push(NodeState {
            id: uuid.unwrap_or(uname).to_string(),
            uname: Some(uname.to_string()),
            in_ccm: None,
            crmd: None,
            join: None,
            expected: None,
            shutdown: None,
            transient: Vec::new(),
            lrm: Vec::new(),
            has_lrm: false,
            node_fenced: None,
        });
        self.nodes.len() - 1
    }

    fn fence(&mut self, node: usize) {
        let st = &mut self.nodes[node];
        for (field, value) in [
            (&mut st.in_ccm, "false"),
            (&mut st.crmd, "offline"),
            (&mut st.join, "down"),
            (&mut st.expected, "down"),
        ] {
            *field = Some(value.to_string());
        }
        st.lrm.clear();
        st.has_lrm = false;
        st.transient.clear();
    }

    fn the_resource(&self, node: usize, id: &str) -> Option<usize> {
        let mut found = self.nodes[node].lrm.iter().enumerate().filter(|(_, r)| r.id == id);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    fn add_resource(&mut self, node: usize, agent: &Agent) -> usize {
        let st = &mut self.nodes[node];
        st.has_lrm = true;
        st.lrm.push(LrmResource {
            id: agent.id.clone(),
            class: Some(agent.class.clone()),
            provider: agent.provider.clone(),
            ty: Some(agent.ty.clone()),
            container: None,
            shutdown_lock: None,
            ops: Vec::new(),
        });
        st.lrm.len() - 1
    }

    fn last_call_id(&self, node: usize, rsc: usize) -> i64 {
        self.nodes[node].lrm[rsc]
            .ops
            .iter()
            .map(|o| o.call_id)
            .fold(0, i64::max)
    }

    fn write_op(&mut self, node: usize, rsc: usize, op: &LrmOp, _key: &str) {
        let ops = &mut self.nodes[node].lrm[rsc].ops;
        let Some(old) = ops.iter_mut().find(|o| o.id == op.id) else {
            ops.push(op.clone());
            return;
        };
        // What the write does not set stays (`crm_xml_add` on the entry):
        // the other digests, the node, a migration's peers.
        let kept = std::mem::replace(old, op.clone());
        old.op_restart_digest = kept.op_restart_digest;
        old.op_secure_digest = kept.op_secure_digest;
        old.op_secure_params = kept.op_secure_params;
        old.op_force_restart = kept.op_force_restart;
        old.on_node = kept.on_node;
        old.migrate_source = old.migrate_source.take().or(kept.migrate_source);
        old.migrate_target = old.migrate_target.take().or(kept.migrate_target);
    }
}
