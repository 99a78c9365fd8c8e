//! Prints quorum and votes now and at every change, like `corosync-quorumtool -m`.
//!
//! `cargo run -p client --example quorum_watch`

use client::quorum::Quorum;
use client::votequorum::Votequorum;
use client::{DispatchFlags, TrackFlags};

fn main() -> client::Result<()> {
    let quorum = Quorum::initialize()?;
    let votequorum = Votequorum::initialize()?;
    quorum.trackstart(TrackFlags::CURRENT | TrackFlags::CHANGES)?;
    loop {
        quorum.dispatch(DispatchFlags::One, |ev| {
            println!(
                "quorate {} ring seq {:#x} members {:?}",
                ev.quorate, ev.ring_seq, ev.members
            );
        })?;
        let info = votequorum.get_info(0)?;
        println!(
            "  votes {} of {} expected, quorum {}",
            info.total_votes, info.expected_votes, info.quorum
        );
    }
}
