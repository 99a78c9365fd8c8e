//! What the controller's parts ask of [`crate::node::CrmNode`], which owns the CIB
//! manager, the attribute table and the outbox.

use crate::cib_manager::CibOp;
use crate::ids::NodeId;
use crate::messages::{AttrChange, Body};
use crate::ops::{ExecKey, ExecRequest, FenceRequest};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Multicast to the group.
    Send(Body),
    /// Change the CIB. A `quiet` change is the transition's own bookkeeping (a
    /// result, a join); any other change aborts the transition.
    Cib { op: CibOp, quiet: bool },
    /// Change node attributes (fail counts).
    Attr(Vec<AttrChange>),
    /// Delete `rsc`'s fail counts and last failures on `node`.
    ClearFailcount { node: NodeId, rsc: String },
    /// Run an agent.
    Exec(ExecRequest),
    /// Stop a recurring operation.
    Cancel(ExecKey),
    /// Fence a node.
    Fence(FenceRequest),
    /// The DC asked this node to shut down.
    Shutdown,
}
