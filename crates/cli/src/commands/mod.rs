//! One module per top-level subcommand.

pub mod blackbox;
pub mod crm;
pub mod demo;
pub mod keygen;
pub mod status;
