//! Prints the `crm_simulate -S` style report for a CIB file:
//! `cargo run --release -p crm --example simulate -- FILE [-t DATE] [-G GRAPH.xml]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: simulate FILE [-t DATE] [-G GRAPH.xml]");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let cib = match cib::Cib::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let date = value_of("-t").and_then(|d| cib::time::parse_datetime(d));
    let opts = scheduler::Options::for_cib(&cib, date, crm::simulate::system_clock);
    let sim = crm::simulate::simulate(&cib, &opts);
    for w in &sim.schedule.cluster.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(g) = value_of("-G") {
        if let Err(e) = std::fs::write(g, sim.graph.to_xml()) {
            eprintln!("cannot write {g}: {e}");
            std::process::exit(1);
        }
    }
    print!("{}", sim.report());
}
