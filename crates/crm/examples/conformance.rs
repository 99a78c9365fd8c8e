//! Runs the conformance harness without the CLI:
//! `cargo run --release -p crm --example conformance -- CASES_DIR [FILTER]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/scheduler-cases".into());
    let filter = args.next();
    match crm::conformance::run_all(std::path::Path::new(&dir), filter.as_deref(), 2) {
        Ok(r) => print!("{}", r.render(false)),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
