//! Times the in-process simulation of every case, stage by stage, over
//! several rounds (for profiling with `perf record`):
//! `cargo run --release -p crm --example inprocess -- CASES_DIR [ROUNDS]`.
use std::time::{Duration, Instant};

// The allocator `ferrosync` uses, so stage times match `crm bench`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().map_or("../shared/scheduler-cases", String::as_str));
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let cases = crm::conformance::read_index(&dir).expect("cannot read index.tsv");
    let names = ["read", "xml", "cib", "unpack+schedule+graph+render", "report"];
    let mut best = [Duration::MAX; 6];
    // With SLOWEST=N set, the N cases that take longest (least of the rounds).
    let slowest: usize = std::env::var("SLOWEST").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut per_case: Vec<(Duration, &str)> = cases.iter().map(|c| (Duration::MAX, c.name.as_str())).collect();
    for round in 0..rounds {
        let mut t = [Duration::ZERO; 5];
        let all = Instant::now();
        for (i, case) in cases.iter().enumerate() {
            let case_start = Instant::now();
            let mut now = Instant::now();
            let mut lap = |t: &mut Duration| {
                let n = Instant::now();
                *t += n - now;
                now = n;
            };
            let text = std::fs::read_to_string(dir.join("cases").join(format!("{}.xml", case.name))).unwrap();
            lap(&mut t[0]);
            let root = cib::xml::Element::parse(&text).unwrap();
            lap(&mut t[1]);
            let c = cib::Cib::from_element(root).unwrap();
            lap(&mut t[2]);
            let date = case
                .args
                .iter()
                .position(|a| a == "-t")
                .and_then(|i| case.args.get(i + 1))
                .and_then(|d| cib::time::parse_datetime(d));
            let opts = scheduler::Options::for_cib(&c, date, crm::simulate::system_clock);
            let sim = crm::simulate::simulate(&c, &opts);
            lap(&mut t[3]);
            let report = sim.report();
            assert!(!report.is_empty());
            drop(sim);
            lap(&mut t[4]);
            per_case[i].0 = per_case[i].0.min(case_start.elapsed());
        }
        let total = all.elapsed();
        for (b, d) in best.iter_mut().zip(t.iter().copied().chain([total])) {
            *b = (*b).min(d);
        }
        let parts: Vec<String> = names
            .iter()
            .zip(t)
            .map(|(n, d)| format!("{n} {:.1} ms", d.as_secs_f64() * 1e3))
            .collect();
        println!(
            "round {round}: {:.1} ms ({})",
            total.as_secs_f64() * 1e3,
            parts.join(", ")
        );
    }
    per_case.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (d, name) in per_case.iter().take(slowest) {
        println!("{:8.2} ms {name}", d.as_secs_f64() * 1e3);
    }
    // The least of each over the rounds: what the machine's other load
    // disturbs least.
    let parts: Vec<String> = names
        .iter()
        .zip(best)
        .map(|(n, d)| format!("{n} {:.1} ms", d.as_secs_f64() * 1e3))
        .collect();
    println!("best: {:.1} ms ({})", best[5].as_secs_f64() * 1e3, parts.join(", "));
}
