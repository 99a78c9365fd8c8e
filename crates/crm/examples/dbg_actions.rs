//! Prints the scheduler's actions whose name contains a pattern, with their
//! flags and every ordering into or out of them: what decides whether an
//! action reaches the graph, when it differs from crm_simulate's
//! (`crm_simulate -S -x CIB -G graph.xml` gives Pacemaker's side).
//! `cargo run --release -p crm --example dbg_actions -- CIB.xml rsc1_start`
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let pat = std::env::args().nth(2).unwrap_or_default();
    let c = cib::Cib::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let s = scheduler::run(&c, &scheduler::Options::for_cib(&c, None, || 0));
    for a in &s.actions {
        let name = format!(
            "{}_{}_{} {:?}",
            a.rsc.map(|r| s.cluster.rscs[r].id.clone()).unwrap_or_default(),
            a.task,
            a.interval_ms,
            a.node.map(|n| s.cluster.nodes[n].uname.clone())
        );
        if name.contains(&pat) {
            println!(
                "#{} {name} optional={} runnable={} pseudo={}",
                a.id, a.optional, a.runnable, a.pseudo
            );
            for e in s.edges.iter().filter(|e| e.then == a.id || e.first == a.id) {
                let f = &s.actions[e.first];
                let t = &s.actions[e.then];
                println!(
                    "    {}_{} -> {}_{} flags={:#x}",
                    f.rsc.map(|r| s.cluster.rscs[r].id.clone()).unwrap_or_default(),
                    f.task,
                    t.rsc.map(|r| s.cluster.rscs[r].id.clone()).unwrap_or_default(),
                    t.task,
                    e.flags
                );
            }
        }
    }
}
