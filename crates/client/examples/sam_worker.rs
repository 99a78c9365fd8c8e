//! A process kept alive by SAM: it counts in stored data, sends health checks, and crashes
//! on purpose every fifth count; the supervisor restarts it with the count restored.
//!
//! `cargo run -p client --example sam_worker` (no daemon needed for the restart policy).

use std::time::Duration;

use client::sam::{RecoveryPolicy, Sam};

fn main() -> client::Result<()> {
    let sam = Sam::initialize(Duration::from_secs(1), RecoveryPolicy::Restart)?;
    let mut me = sam.register()?;
    let mut count = me.data_restore().try_into().map(u64::from_le_bytes).unwrap_or(0);
    println!("instance {} starts at {count}", me.instance_id());
    me.start()?;
    loop {
        count += 1;
        me.data_store(&count.to_le_bytes())?;
        me.hc_send()?;
        println!("count {count}");
        if count % 5 == 0 {
            std::process::abort();
        }
        if count >= 12 {
            return me.finalize();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
