//! Debug helper: prints the unpacked resources, the actions and the
//! orderings of a CIB file.
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump FILE");
    let text = std::fs::read_to_string(path).expect("read");
    let cib = cib::Cib::parse(&text).expect("parse");
    let s = scheduler::run(
        &cib,
        &scheduler::Options::for_cib(&cib, None, crm::simulate::system_clock),
    );
    for r in &s.cluster.rscs {
        println!(
            "{} ops={:?} role={:?} next={:?} on={:?} failed={} managed={} assigned={:?} allowed={:?}",
            r.id,
            r.config.ops,
            r.observed.role,
            r.plan.next_role,
            r.observed.running_on,
            r.observed.failed,
            r.config.managed,
            r.plan.assigned,
            r.plan.allowed
        );
    }
    for a in &s.actions {
        println!("{:?}", a);
    }
    for e in &s.edges {
        println!("edge {} -> {} flags={:#x}", e.first, e.then, e.flags);
    }
}
