//! Joins a CPG group, sends one line per argument, prints what the group says.
//!
//! `cargo run -p client --example cpg_chat -- hello world` on each node (as root, or a user
//! allowed by `uidgid.uid.*`); Ctrl-C to stop.

use client::cpg::{Cpg, CpgEvent, Guarantee};
use client::DispatchFlags;

fn main() -> client::Result<()> {
    let cpg = Cpg::initialize()?;
    cpg.join("chat")?;
    println!("node {} pid {} joined \"chat\"", cpg.local_get()?, cpg.pid());
    for word in std::env::args().skip(1) {
        cpg.mcast_joined(Guarantee::Agreed, word.as_bytes())?;
    }
    loop {
        cpg.dispatch(DispatchFlags::One, |event| match event {
            CpgEvent::Deliver { nodeid, pid, data, .. } => {
                println!("{nodeid}/{pid}: {}", String::from_utf8_lossy(&data))
            }
            CpgEvent::Confchg { members, .. } => println!("{} member(s) now", members.len()),
            CpgEvent::TotemConfchg { ring_id, members } => println!("ring {ring_id}: {members:?}"),
        })?;
    }
}
