//! Runs the conformance harness without the CLI:
//! `cargo run --release -p crm --example conformance -- CASES_DIR [FILTER] [--record GATE_DIR]`.
//! With `--record`, newly passing cases are added to the gate lists in GATE_DIR
//! (`crates/crm/conformance`); with `--check GATE_DIR`, cases listed there
//! that no longer pass and newly passing ones are printed.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let record = args.iter().position(|a| a == "--record").and_then(|i| args.get(i + 1));
    let check = args.iter().position(|a| a == "--check").and_then(|i| args.get(i + 1));
    let positional: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let flag = |f: &str| *a == f || (*i > 0 && args[i - 1] == f);
            !flag("--record") && !flag("--check")
        })
        .map(|(_, a)| a)
        .collect();
    let dir = positional.first().map_or("../shared/scheduler-cases", |d| d.as_str());
    let filter = positional.get(1).map(|f| f.as_str());
    let report = match crm::conformance::run_all(std::path::Path::new(dir), filter, 2) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", report.render(false));
    if let Some(gate) = check {
        match crm::conformance::gate::compare_all(std::path::Path::new(gate), &report) {
            Ok(g) => println!("regressions:\n{}\nnew passes:\n{}", g.regressions(), g.new_passes()),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    if let Some(gate) = record {
        if let Err(e) = crm::conformance::gate::record_new_passes(std::path::Path::new(gate), &report) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
