//! Post-mortem helper: `cargo run --example whodelivered -- SEED MSG` prints, for each
//! incarnation, where message MSG (e.g. `n5.0#26`) sits relative to its configurations.

use sim::history::Entry;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: whodelivered SEED MSG");
    let msg = args.next().expect("usage: whodelivered SEED MSG");
    let r = sim::run(&sim::SimOptions {
        seed,
        ..Default::default()
    });
    println!("{}", r.summary());
    let h = &r.history;
    for inc in &h.incs {
        let mut config = String::from("(none)");
        let mut found = None;
        for e in &inc.log {
            match e {
                Entry::Config { change, at } => {
                    config = format!("{:?} {} {:?} at {at}", change.kind, change.ring_id, change.members)
                }
                Entry::Deliver(d) if d.id.map(|i| i.to_string()) == Some(msg.clone()) => {
                    found = Some((d.at, config.clone()))
                }
                Entry::Deliver(_) => {}
            }
        }
        match found {
            Some((at, c)) => println!("n{}.{}: delivered at {at} in {c}", inc.node, inc.inc),
            None => println!("n{}.{}: never delivered it", inc.node, inc.inc),
        }
    }
    if let Some(g) = h.messages.iter().find(|m| m.id.to_string() == msg) {
        println!(
            "submitted at {} by n{}.{}, {} bytes",
            g.at, h.incs[g.by].node, h.incs[g.by].inc, g.len
        );
    }
}
