//! ferrosyncd's building blocks: the corosync.conf reader, the cmap-style key store, ring id
//! persistence and the event loop that drives the sans-IO `totem` core over `transport`.

pub mod blackbox;
pub mod cmap_config;
pub mod conf;
pub mod daemon;
pub mod ipc_host;
pub mod loadgen;
pub mod local_cluster;
pub mod logging;
pub mod netns;
pub mod pidfile;
pub mod realtime;
pub mod ringid;
pub mod scheduling;
pub mod sdnotify;
pub mod startup;
pub mod status;
pub mod token_batch;
