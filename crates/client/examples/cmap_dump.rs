//! Prints every key under a prefix (default: all), like `corosync-cmapctl`, then the
//! changes under it as they happen.
//!
//! `cargo run -p client --example cmap_dump -- totem.`

use client::cmap::{Cmap, Map, TrackKind};
use client::DispatchFlags;

fn main() -> client::Result<()> {
    let prefix = std::env::args().nth(1).unwrap_or_default();
    let cmap = Cmap::initialize(Map::Icmap)?;
    for (key, value) in cmap.iter_prefix(&prefix)? {
        println!("{key} ({}) = {value}", value.type_name());
    }
    cmap.track_add(&prefix, TrackKind::ALL | TrackKind::PREFIX, 0)?;
    loop {
        cmap.dispatch(DispatchFlags::One, |n| {
            println!("{:?} {}: {:?} -> {:?}", n.change, n.key, n.old, n.new)
        })?;
    }
}
