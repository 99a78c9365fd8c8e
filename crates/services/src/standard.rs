//! The services corosync 3.1.7 loads, built from the configuration map: cmap, cfg,
//! cpg, quorum and, with `quorum.provider: corosync_votequorum`, votequorum. The
//! daemon and the simulator both start nodes with this set.

use crate::quorum::{configured_type, QuorumService, QuorumType};
use crate::service::{Ctx, Service};
use crate::votequorum::VoteQuorum;

/// Why the services cannot start (a configuration error, in corosync's words).
pub type StartError = crate::votequorum::ConfigError;

/// Builds the standard set for [`crate::Node::new`].
pub fn standard(ctx: &mut Ctx<'_>) -> Result<Vec<Box<dyn Service>>, StartError> {
    let mut services: Vec<Box<dyn Service>> = vec![
        Box::new(crate::cmap::Cmap::new()),
        Box::new(crate::cfg::Cfg::new()),
        Box::new(crate::cpg::Cpg::new()),
        Box::new(QuorumService::new(ctx.icmap)?),
    ];
    if configured_type(ctx.icmap)? == QuorumType::Set {
        services.push(Box::new(VoteQuorum::new(ctx)?));
    }
    Ok(services)
}
