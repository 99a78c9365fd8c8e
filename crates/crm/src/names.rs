//! The names crm_simulate finds a resource by when it executes a graph
//! action (`pe_find_resource` with `pe_find_renamed`): its id, or the
//! history name an instance was renamed to.

use foldhash::{HashSet, HashSetExt};

use scheduler::graph_details::Agent;
use scheduler::model::Cluster;

/// Every name a resource of the cluster goes by.
#[derive(Debug, Default)]
pub struct ResourceNames(HashSet<String>);

impl ResourceNames {
    pub fn of(c: &Cluster) -> ResourceNames {
        let mut names = HashSet::new();
        for r in &c.rscs {
            names.insert(r.id.clone());
            names.extend(r.observed.history_ids.iter().map(|(_, h)| h.clone()));
        }
        ResourceNames(names)
    }

    pub fn knows(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The name crm_simulate uses for a graph action's resource: the
    /// graph's `<primitive id>` when a resource goes by it, else its
    /// `long-id` (an anonymous instance never renamed).
    pub fn of_action<'a>(&self, agent: &'a Agent) -> &'a str {
        match &agent.long_id {
            Some(long) if !self.knows(&agent.id) => long,
            _ => &agent.id,
        }
    }
}
