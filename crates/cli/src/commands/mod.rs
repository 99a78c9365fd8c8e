//! One module per top-level subcommand.

pub mod bench;
pub mod bench_failover;
pub mod blackbox;
pub mod cfg;
pub mod cmap;
pub mod cpg;
pub mod crm;
pub mod crm_socket;
pub mod demo;
pub mod keygen;
pub mod quorum;
pub mod status;
pub mod view;
