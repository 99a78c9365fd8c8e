//! `crm::mon` against `crm_mon` 2.1.5 over the scheduler cases
//! (`CIB_file=CASE crm_mon -1 …`, `TZ=UTC`): text without and with `-r`,
//! text with `-A -f`, and `--output-as=xml`. `crm_mon`'s "Last updated"
//! clock is fed to ours, so outputs must be equal byte for byte.
//!
//! The cases that match are pinned in `mon-*.txt` (one name a line); the
//! test fails naming a pinned case that no longer matches. With
//! `FERROSYNC_MON_RECORD=DIR` it writes the current passing lists there;
//! `FERROSYNC_MON_VERBOSE=1` prints the first difference of every mismatch.
//! Skipped with a message when `crm_mon` or the cases are absent.

use std::path::PathBuf;
use std::process::Command;

use crm::mon::{status, MonOptions};

fn cases_dir() -> Option<PathBuf> {
    let dir = std::env::var("FERROSYNC_SCHEDULER_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases"));
    let cases = dir.join("cases");
    cases.is_dir().then_some(cases)
}

fn crm_mon(file: &PathBuf, args: &[&str]) -> Option<String> {
    let out = Command::new("crm_mon")
        .env("CIB_file", file)
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn last_updated_text(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("  * Last updated: "))
        .unwrap_or("")
        .to_string()
}

fn last_updated_xml(out: &str) -> String {
    out.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("<last_update time=\"")
                .and_then(|r| r.strip_suffix("\"/>"))
        })
        .unwrap_or("")
        .to_string()
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: crm_mon {x:?} / ours {y:?}", i + 1);
        }
    }
    format!(
        "lengths differ: crm_mon {} lines / ours {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

struct Variant {
    name: &'static str,
    args: &'static [&'static str],
    xml: bool,
    opts: fn() -> MonOptions,
}

const VARIANTS: [Variant; 4] = [
    Variant {
        name: "text",
        args: &["-1"],
        xml: false,
        opts: MonOptions::default,
    },
    Variant {
        name: "text-inactive",
        args: &["-1", "-r"],
        xml: false,
        opts: || MonOptions {
            inactive: true,
            ..Default::default()
        },
    },
    Variant {
        name: "text-attrs-failcounts",
        args: &["-1", "-A", "-f"],
        xml: false,
        opts: || MonOptions {
            node_attributes: true,
            fail_counts: true,
            ..Default::default()
        },
    },
    Variant {
        name: "xml",
        args: &["-1", "--output-as=xml"],
        xml: true,
        opts: MonOptions::default,
    },
];

fn pinned(variant: &str) -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/mon-{variant}.txt"));
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn status_matches_crm_mon() {
    let Some(dir) = cases_dir() else {
        eprintln!("skipped: no scheduler cases directory");
        return;
    };
    if Command::new("crm_mon").arg("--version").output().is_err() {
        eprintln!("skipped: crm_mon not installed");
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("cases")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".xml").map(String::from))
        .collect();
    names.sort();
    let verbose = std::env::var("FERROSYNC_MON_VERBOSE").is_ok();
    let record = std::env::var("FERROSYNC_MON_RECORD").ok();
    let mut failures = Vec::new();
    let mut passing: Vec<Vec<String>> = vec![Vec::new(); VARIANTS.len()];
    let pins: Vec<Vec<String>> = VARIANTS.iter().map(|v| pinned(v.name)).collect();
    // (variant, case, Ok = equal | Err = first difference), two cases at a time.
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(name) = names.get(i) else { break };
                let file = dir.join(format!("{name}.xml"));
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue;
                };
                let Ok(cib) = cib::Cib::parse(&text) else { continue };
                let st = status(&cib, &scheduler::Options::at(now()));
                for (vi, v) in VARIANTS.iter().enumerate() {
                    let Some(expected) = crm_mon(&file, v.args) else {
                        continue;
                    };
                    let mut opts = (v.opts)();
                    let got = if v.xml {
                        opts.last_updated = last_updated_xml(&expected);
                        st.xml(&opts, &format!("crm_mon {}", v.args.join(" ")))
                    } else {
                        opts.last_updated = last_updated_text(&expected);
                        st.text(&opts)
                    };
                    let r = if got == expected {
                        Ok(())
                    } else {
                        Err(first_diff(&expected, &got))
                    };
                    results.lock().expect("lock").push((vi, name.clone(), r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("lock");
    results.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (vi, name, r) in results {
        match r {
            Ok(()) => passing[vi].push(name),
            Err(d) => {
                if verbose {
                    eprintln!("MISMATCH {} {name}: {d}", VARIANTS[vi].name);
                }
                if pins[vi].contains(&name) {
                    failures.push(format!("{} {name}: {d}", VARIANTS[vi].name));
                }
            }
        }
    }
    for (vi, v) in VARIANTS.iter().enumerate() {
        eprintln!(
            "{}: {} of {} cases match crm_mon",
            v.name,
            passing[vi].len(),
            names.len()
        );
        if let Some(dir) = &record {
            let p = PathBuf::from(dir).join(format!("mon-{}.txt", v.name));
            std::fs::write(p, passing[vi].join("\n") + "\n").expect("write list");
        }
    }
    assert!(
        failures.is_empty(),
        "pinned cases no longer match crm_mon:\n{}",
        failures.join("\n")
    );
}
