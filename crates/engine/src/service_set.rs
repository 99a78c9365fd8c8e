//! The services `ferrosyncd` runs on top of totem.

use services::Service;

/// One instance of every service, as corosync 3.1.7 loads them.
pub fn all() -> Vec<Box<dyn Service>> {
    vec![Box::new(services::cpg::Cpg::new())]
}
