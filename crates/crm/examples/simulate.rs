//! Prints the `crm_simulate -S` style report for a CIB file:
//! `cargo run --release -p crm --example simulate -- FILE [-t DATE]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: simulate FILE [-t DATE]");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let cib = match crm::Cib::parse(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut opts = crm::Options::default();
    if let Some(i) = args.iter().position(|a| a == "-t") {
        opts.now = args.get(i + 1).and_then(|d| crm::rules::parse_datetime(d));
    }
    print!("{}", crm::simulate::simulate(&cib, &opts).report());
}
