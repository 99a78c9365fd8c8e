//! `crm::admin` against Pacemaker's own tools: the same verb is run with
//! `crm_resource` / `crm_attribute` / `cibadmin` (`CIB_file=` on a copy of a
//! scheduler case) and as `CibOp`s applied to the same CIB; the resulting
//! configuration sections must be equal (ids, attributes, order of children),
//! ignoring what the tools stamp (versions, `cib-last-written`) and the
//! `end` of lifetime rules (a clock reading).
//!
//! Skipped with a message when the tools or the cases are absent. The cases
//! whose whole verb sequence matches are pinned in `admin-cases.txt`; the
//! test fails naming a pinned case that no longer matches
//! (`FERROSYNC_ADMIN_RECORD=1` prints the passing list).

use std::path::{Path, PathBuf};
use std::process::Command;

use cib::document::CibDocument;
use cib::xml::Element;
use crm::admin::{self, AdminError, CibOp, MoveOptions};

fn cases_dir() -> Option<PathBuf> {
    let dir = std::env::var("FERROSYNC_SCHEDULER_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases"));
    let cases = dir.join("cases");
    cases.is_dir().then_some(cases)
}

fn have_tools() -> bool {
    ["crm_resource", "crm_attribute", "cibadmin"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Element tree with sorted attributes, elements only; lifetime ends blanked.
fn canon(e: &Element, out: &mut String, depth: usize) {
    let mut attrs = e.attrs.clone();
    if e.name == "date_expression" {
        for a in attrs.iter_mut() {
            if a.0 == "end" {
                a.1 = "END".into();
            }
        }
    }
    attrs.sort();
    out.push_str(&"  ".repeat(depth));
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in attrs {
        out.push_str(&format!(" {k}=\"{v}\""));
    }
    out.push_str(">\n");
    for c in e.elements() {
        canon(c, out, depth + 1);
    }
}

fn config_text(doc: &CibDocument) -> String {
    let mut s = String::new();
    if let Some(c) = doc.root().child("configuration") {
        canon(c, &mut s, 0);
    }
    s
}

struct Case {
    name: String,
    file: PathBuf,
    /// The tool's copy.
    work: PathBuf,
    ours: CibDocument,
}

impl Case {
    fn tool(&self, tool: &str, args: &[&str]) -> bool {
        Command::new(tool)
            .env("CIB_file", &self.work)
            .env("LC_ALL", "C")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn tool_doc(&self) -> CibDocument {
        let text = std::fs::read_to_string(&self.work).expect("read tool copy");
        CibDocument::parse(&text).expect("tool wrote a CIB")
    }

    /// Runs both; returns a description of the difference, if any.
    fn step(
        &mut self,
        what: &str,
        tool: &str,
        args: &[&str],
        ours: impl Fn(&CibDocument) -> Result<Vec<CibOp>, AdminError>,
    ) -> Result<(), String> {
        let ok = self.tool(tool, args);
        let mine = ours(&self.ours);
        match (ok, mine) {
            (false, Err(_)) => Ok(()),
            (false, Ok(ops)) if ops.is_empty() => Ok(()),
            (true, Err(e)) => Err(format!("{what}: {tool} succeeded, ours failed: {e}")),
            (false, Ok(ops)) => Err(format!("{what}: {tool} failed, ours made {ops:?}")),
            (true, Ok(ops)) => {
                let applied = admin::apply(&self.ours, &ops).map_err(|e| format!("{what}: apply: {e}"))?;
                self.ours = applied;
                let (a, b) = (config_text(&self.tool_doc()), config_text(&self.ours));
                if a != b {
                    return Err(format!("{what}: configurations differ\n{}", diff(&a, &b)));
                }
                Ok(())
            }
        }
    }
}

fn diff(a: &str, b: &str) -> String {
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let mut out = String::new();
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (al.get(i).copied().unwrap_or(""), bl.get(i).copied().unwrap_or(""));
        if x != y {
            out.push_str(&format!("  tool: {x}\n  ours: {y}\n"));
            if out.len() > 1500 {
                break;
            }
        }
    }
    out
}

fn setup(name: &str, file: &Path, tmp: &Path) -> Option<Case> {
    let text = std::fs::read_to_string(file).ok()?;
    let doc = CibDocument::parse(&text).ok()?;
    cib::Cib::parse(&text).ok()?;
    let work = tmp.join(format!("{name}.xml"));
    std::fs::write(&work, &text).ok()?;
    Some(Case {
        name: name.into(),
        file: file.into(),
        work,
        ours: doc,
    })
}

fn ids_of(doc: &CibDocument, tags: &[&str]) -> Vec<String> {
    fn walk(e: &Element, tags: &[&str], out: &mut Vec<String>) {
        if tags.contains(&e.name.as_str()) {
            if let Some(id) = e.attr("id") {
                out.push(id.into());
            }
        }
        for c in e.elements() {
            walk(c, tags, out);
        }
    }
    let mut v = Vec::new();
    if let Some(r) = doc.root().child("configuration").and_then(|c| c.child("resources")) {
        walk(r, tags, &mut v);
    }
    v
}

fn node_unames(doc: &CibDocument) -> Vec<String> {
    doc.root()
        .child("configuration")
        .and_then(|c| c.child("nodes"))
        .map(|n| {
            n.children_named("node")
                .filter_map(|x| x.attr("uname"))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The verb sequence run on one case.
fn run_case(c: &mut Case) -> Result<(), String> {
    let rscs = ids_of(&c.ours, &["primitive", "group", "clone", "master"]);
    let prims = ids_of(&c.ours, &["primitive"]);
    let nodes = node_unames(&c.ours);
    let (Some(r), Some(n0), Some(nl)) = (prims.first().cloned(), nodes.first().cloned(), nodes.last().cloned()) else {
        return Err("no primitive or node".into());
    };
    let t = now();
    let mo = MoveOptions::default();
    c.step("ban", "crm_resource", &["-r", &r, "--ban", "-N", &n0], |d| {
        admin::resource_ban(d, &r, Some(&n0), &mo, t)
    })?;
    c.step("move", "crm_resource", &["-r", &r, "--move", "-N", &nl], |d| {
        admin::resource_move(d, &r, Some(&nl), &mo, t)
    })?;
    let life = MoveOptions {
        lifetime: Some("PT2H".into()),
        ..Default::default()
    };
    // (Not over a ban without lifetime: the tool merges the rule into the
    // old constraint, which then fails validation; ours replaces it.)
    if n0 != nl {
        c.step(
            "ban with lifetime",
            "crm_resource",
            &["-r", &r, "--ban", "-N", &nl, "--lifetime", "PT2H"],
            |d| admin::resource_ban(d, &r, Some(&nl), &life, t),
        )?;
    }
    c.step(
        "clear on node",
        "crm_resource",
        &["-r", &r, "--clear", "-N", &n0],
        |d| admin::resource_clear(d, &r, Some(&n0)),
    )?;
    c.step("clear", "crm_resource", &["-r", &r, "--clear"], |d| {
        admin::resource_clear(d, &r, None)
    })?;
    for id in rscs.iter().take(4) {
        c.step(
            &format!("disable {id}"),
            "crm_resource",
            &["-r", id, "--meta", "-p", "target-role", "-v", "Stopped"],
            |d| admin::resource_disable(d, id),
        )?;
    }
    // Members before their group: `crm_resource --meta -d` deletes only the
    // first of several matches (it reuses the first nvpair id for the others).
    for id in rscs.iter().take(4).rev() {
        c.step(
            &format!("enable {id}"),
            "crm_resource",
            &["-r", id, "--meta", "-d", "target-role"],
            |d| admin::resource_enable(d, id),
        )?;
    }
    c.step(
        "property set new",
        "crm_attribute",
        &["-t", "crm_config", "-n", "ferrosync-test", "-v", "1"],
        |d| admin::property_set(d, "ferrosync-test", "1"),
    )?;
    c.step(
        "property set existing",
        "crm_attribute",
        &["-t", "crm_config", "-n", "stonith-enabled", "-v", "false"],
        |d| admin::property_set(d, "stonith-enabled", "false"),
    )?;
    c.step(
        "property unset",
        "crm_attribute",
        &["-t", "crm_config", "-n", "ferrosync-test", "-D"],
        |d| admin::property_unset(d, "ferrosync-test"),
    )?;
    c.step(
        "standby",
        "crm_attribute",
        &["-N", &n0, "-n", "standby", "-v", "on"],
        |d| admin::node_standby(d, &n0, true),
    )?;
    c.step("online", "crm_attribute", &["-N", &n0, "-n", "standby", "-D"], |d| {
        admin::node_standby(d, &n0, false)
    })?;
    Ok(())
}

fn pinned() -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/admin-cases.txt");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn verbs_match_pacemaker_tools() {
    let Some(dir) = cases_dir() else {
        eprintln!("skipped: no scheduler cases directory");
        return;
    };
    if !have_tools() {
        eprintln!("skipped: crm_resource/crm_attribute/cibadmin not installed");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("ferrosync-admin-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("cases")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".xml").map(String::from))
        .collect();
    names.sort();
    // Every case is slow (a tool run per step): by default every tenth one.
    let stride: usize = std::env::var("FERROSYNC_ADMIN_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let names: Vec<String> = names.into_iter().step_by(stride.max(1)).collect();
    let verbose = std::env::var("FERROSYNC_ADMIN_VERBOSE").is_ok();
    let pinned = pinned();
    let mut passing = Vec::new();
    let mut failures = Vec::new();
    for name in &names {
        let Some(mut c) = setup(name, &dir.join(format!("{name}.xml")), &tmp) else {
            continue;
        };
        match run_case(&mut c) {
            Ok(()) => passing.push(name.clone()),
            Err(e) => {
                if verbose {
                    eprintln!("MISMATCH {name}: {}", e.lines().take(3).collect::<Vec<_>>().join(" | "));
                }
                if pinned.contains(name) {
                    failures.push(format!("{name} ({}): {e}", c.file.display()));
                }
            }
        }
        let _ = c.name;
    }
    std::fs::remove_dir_all(&tmp).ok();
    eprintln!("{} of {} cases match the tools", passing.len(), names.len());
    if std::env::var("FERROSYNC_ADMIN_RECORD").is_ok() {
        println!("{}", passing.join("\n"));
    }
    let new: Vec<&String> = passing.iter().filter(|p| !pinned.contains(p)).collect();
    if !new.is_empty() {
        eprintln!("newly matching (not pinned): {}", new.len());
    }
    assert!(
        failures.is_empty(),
        "pinned cases no longer match:\n{}",
        failures.join("\n")
    );
}

/// Edits and errors that have no Pacemaker tool to compare with.
#[test]
fn errors_name_what_is_wrong() {
    let doc = CibDocument::parse(include_str!(
        "../../../../shared/reference/pacemaker-min-2node-running.xml"
    ))
    .expect("reference CIB");
    let e = admin::resource_ban(&doc, "nope", Some("node1"), &MoveOptions::default(), 0).unwrap_err();
    assert!(e.to_string().contains("'nope'"), "{e}");
    let e = admin::resource_ban(&doc, "app", Some("node9"), &MoveOptions::default(), 0).unwrap_err();
    assert!(e.to_string().contains("node9"), "{e}");
    let e = admin::location_add(&doc, None, "app", "node1", "lots", None).unwrap_err();
    assert_eq!(e.to_string(), "<rsc_location> attribute 'score': invalid score 'lots'");
    let spec = admin::PrimitiveSpec {
        id: "app".into(),
        agent: "ocf:pacemaker:Dummy".into(),
        ..Default::default()
    };
    let e = admin::resource_create(&doc, &spec).unwrap_err();
    assert!(matches!(e, AdminError::IdExists { .. }), "{e}");
    let spec = admin::PrimitiveSpec {
        id: "x".into(),
        agent: "ocf:Dummy".into(),
        ..Default::default()
    };
    assert!(admin::resource_create(&doc, &spec).is_err());
}
