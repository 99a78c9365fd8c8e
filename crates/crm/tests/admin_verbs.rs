//! `crm::admin` verbs that no Pacemaker tool performs offline: create and
//! delete (pcs), cleanup (a dry run with `CIB_file`), restart, constraint
//! creation, configuration replacement. Checked on the edits themselves and
//! on what the scheduler and `crm_mon` see afterwards.

use scheduler::ids::clone_strip;
use std::path::PathBuf;
use std::process::Command;

use cib::document::CibDocument;
use crm::admin::{self, CibOp, CleanupKind, CleanupOptions, OpSpec, PrimitiveSpec};
use crm::mon::{status, MonOptions};

const REFERENCE: &str = include_str!("../../../../shared/reference/pacemaker-min-2node-running.xml");

fn reference() -> CibDocument {
    CibDocument::parse(REFERENCE).expect("reference CIB")
}

fn applied(doc: &CibDocument, ops: &[CibOp]) -> CibDocument {
    let new = admin::apply(doc, ops).expect("ops apply");
    cib::Cib::from_element(new.root().clone()).expect("still a valid CIB");
    new
}

fn cases_dir() -> PathBuf {
    std::env::var("FERROSYNC_SCHEDULER_CASES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases"))
        .join("cases")
}

#[test]
fn create_writes_a_pcs_like_primitive() {
    let doc = reference();
    let spec = PrimitiveSpec {
        id: "web2".into(),
        agent: "ocf:heartbeat:apache".into(),
        params: vec![("configfile".into(), "/etc/apache2/apache2.conf".into())],
        meta: vec![("resource-stickiness".into(), "200".into())],
        ops: vec![OpSpec {
            name: "start".into(),
            interval: "0s".into(),
            attrs: vec![("timeout".into(), "40s".into())],
        }],
        group: None,
        disabled: true,
    };
    let ops = admin::resource_create(&doc, &spec).unwrap();
    let new = applied(&doc, &ops);
    let p = new
        .find("/cib/configuration/resources/primitive[@id='web2']")
        .expect("created");
    assert_eq!(
        p.to_xml_string(),
        r#"<primitive class="ocf" id="web2" provider="heartbeat" type="apache">
  <instance_attributes id="web2-instance_attributes">
    <nvpair id="web2-instance_attributes-configfile" name="configfile" value="/etc/apache2/apache2.conf"/>
  </instance_attributes>
  <meta_attributes id="web2-meta_attributes">
    <nvpair id="web2-meta_attributes-resource-stickiness" name="resource-stickiness" value="200"/>
    <nvpair id="web2-meta_attributes-target-role" name="target-role" value="Stopped"/>
  </meta_attributes>
  <operations>
    <op id="web2-start-interval-0s" interval="0s" name="start" timeout="40s"/>
    <op id="web2-monitor-interval-60s" interval="60s" name="monitor"/>
  </operations>
</primitive>
"#
    );
    // Into a new group, then into the existing one.
    let g = PrimitiveSpec {
        id: "d1".into(),
        agent: "ocf:pacemaker:Dummy".into(),
        group: Some("g1".into()),
        ..Default::default()
    };
    let new = applied(&new, &admin::resource_create(&new, &g).unwrap());
    let g2 = PrimitiveSpec {
        id: "d2".into(),
        agent: "systemd:chronyd".into(),
        group: Some("g1".into()),
        ..Default::default()
    };
    let new = applied(&new, &admin::resource_create(&new, &g2).unwrap());
    assert!(new
        .find("/cib/configuration/resources/group[@id='g1']/primitive[@id='d2']")
        .is_some());
    // Errors name what is wrong.
    let dup = admin::resource_create(&new, &g2).unwrap_err().to_string();
    assert!(dup.contains("'d2'") && dup.contains("primitive"), "{dup}");
    let into_prim = PrimitiveSpec {
        group: Some("vip".into()),
        id: "d3".into(),
        agent: "ocf:pacemaker:Dummy".into(),
        ..Default::default()
    };
    assert!(admin::resource_create(&new, &into_prim)
        .unwrap_err()
        .to_string()
        .contains("<primitive>"));
    let bad_op = PrimitiveSpec {
        id: "d4".into(),
        agent: "ocf:pacemaker:Dummy".into(),
        ops: vec![OpSpec {
            name: "monitor".into(),
            interval: "often".into(),
            attrs: vec![],
        }],
        ..Default::default()
    };
    assert!(admin::resource_create(&new, &bad_op)
        .unwrap_err()
        .to_string()
        .contains("'often'"));
}

#[test]
fn delete_takes_constraints_and_emptied_groups_with_it() {
    let doc = reference();
    let mut ops = Vec::new();
    let mut cur = doc.clone();
    for more in [
        admin::colocation_add(&cur, None, "fence1", "app", "-INFINITY", None, None).unwrap(),
        admin::order_add(&cur, None, "vip", None, "fence1", None, Some("optional"), None).unwrap(),
    ] {
        cur = applied(&cur, &more);
        ops.extend(more);
    }
    // A set constraint naming app and vip.
    let set = cib::xml::Element::parse(
        r#"<rsc_colocation id="set1" score="INFINITY"><resource_set id="set1-a"><resource_ref id="app"/><resource_ref id="fence1"/></resource_set></rsc_colocation>"#,
    )
    .unwrap();
    cur = applied(
        &cur,
        &[CibOp::Create {
            parent: admin::CibPath::new("/cib/configuration/constraints").unwrap(),
            element: set,
        }],
    );
    assert!(cur
        .find("/cib/configuration/constraints/rsc_order[@id='order-vip-fence1-optional']")
        .is_some());
    let new = applied(&cur, &admin::resource_delete(&cur, "app").unwrap());
    assert!(new
        .find("/cib/configuration/resources/group[@id='web']/primitive[@id='app']")
        .is_none());
    assert!(new
        .find("/cib/configuration/constraints/rsc_colocation[@id='colocation-fence1-app--INFINITY']")
        .is_none());
    let s = new
        .find("/cib/configuration/constraints/rsc_colocation[@id='set1']/resource_set[@id='set1-a']")
        .expect("set kept");
    assert_eq!(s.elements().count(), 1, "app dropped from the set");
    // vip is the group's last member: the group goes, with its location.
    let new = applied(&new, &admin::resource_delete(&new, "vip").unwrap());
    assert!(new.find("/cib/configuration/resources/group[@id='web']").is_none());
    assert!(new
        .find("/cib/configuration/constraints/rsc_location[@id='web-prefers-node1']")
        .is_none());
    assert!(new
        .find("/cib/configuration/constraints/rsc_order[@id='order-vip-fence1-optional']")
        .is_none());
    assert!(admin::resource_delete(&new, "vip").is_err());
}

#[test]
fn restart_stops_then_restores_the_target_role() {
    let doc = reference();
    let r = admin::resource_restart(&doc, "app").unwrap();
    let stopped = applied(&doc, &r.stop);
    let cib = cib::Cib::from_element(stopped.root().clone()).unwrap();
    let c = scheduler::unpack::unpack(&cib, 0);
    let app = c.rsc_by_id("app").unwrap();
    assert_eq!(c.rscs[app].config.target_role, Some(scheduler::model::Role::Stopped));
    let started = applied(&stopped, &r.start);
    let cib = cib::Cib::from_element(started.root().clone()).unwrap();
    let c = scheduler::unpack::unpack(&cib, 0);
    assert_eq!(c.rscs[c.rsc_by_id("app").unwrap()].config.target_role, None);
    // A resource already disabled stays disabled after a restart.
    let disabled = applied(&doc, &admin::resource_disable(&doc, "app").unwrap());
    let r = admin::resource_restart(&disabled, "app").unwrap();
    let after = applied(&applied(&disabled, &r.stop), &r.start);
    assert_eq!(
        after
            .find("/cib/configuration/resources/group[@id='web']/primitive[@id='app']/meta_attributes[@id='app-meta_attributes']/nvpair[@id='app-meta_attributes-target-role']")
            .and_then(|e| e.attr("value")),
        Some("Stopped")
    );
}

#[test]
fn constraints_get_pcs_ids_and_validated_scores() {
    let doc = reference();
    let ops = admin::location_add(&doc, None, "web", "node2", "-50", None).unwrap();
    let new = applied(&doc, &ops);
    assert!(new
        .find("/cib/configuration/constraints/rsc_location[@id='location-web-node2--50']")
        .is_some());
    // The same again gets a new id.
    let again = admin::location_add(&new, None, "web", "node2", "-50", None).unwrap();
    let new = applied(&new, &again);
    assert!(new
        .find("/cib/configuration/constraints/rsc_location[@id='location-web-node2--50-1']")
        .is_some());
    let e = admin::colocation_add(&new, None, "app", "nope", "INFINITY", None, None).unwrap_err();
    assert!(e.to_string().contains("'nope'"), "{e}");
    let e = admin::order_add(&new, None, "app", Some("boot"), "vip", None, None, None).unwrap_err();
    assert!(e.to_string().contains("'boot'"), "{e}");
    let e = admin::colocation_add(&new, None, "app", "vip", "+-3", None, None).unwrap_err();
    assert_eq!(e.to_string(), "<rsc_colocation> attribute 'score': invalid score '+-3'");
    let gone = applied(&new, &admin::constraint_remove(&new, "location-web-node2--50").unwrap());
    assert!(gone
        .find("/cib/configuration/constraints/rsc_location[@id='location-web-node2--50']")
        .is_none());
    assert!(admin::constraint_remove(&gone, "location-web-node2--50").is_err());
}

#[test]
fn config_replace_changes_only_what_differs() {
    let doc = reference();
    let mut config = doc.root().child("configuration").unwrap().clone();
    assert!(admin::config_replace(&doc, &config).unwrap().is_empty());
    config.child_mut("constraints").unwrap().children.clear();
    let ops = admin::config_replace(&doc, &config).unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    let new = applied(&doc, &ops);
    assert_eq!(
        new.find("/cib/configuration/constraints").unwrap().elements().count(),
        0
    );
    assert_eq!(
        new.root().child("status"),
        doc.root().child("status"),
        "status untouched"
    );
    // An invalid configuration is refused, naming the problem.
    let mut bad = doc.root().child("configuration").unwrap().clone();
    let loc = cib::xml::Element::parse(r#"<rsc_location id="x" rsc="app" node="node1" score="lots"/>"#).unwrap();
    bad.child_mut("constraints").unwrap().push(loc);
    let e = admin::config_replace(&doc, &bad).unwrap_err().to_string();
    assert!(e.contains("score"), "{e}");
}

/// Cleanup on cases with failures: afterwards neither our status nor
/// crm_mon (when installed) lists a failure or fail count of the resource.
#[test]
fn cleanup_clears_what_crm_mon_shows_as_failed() {
    let dir = cases_dir();
    if !dir.is_dir() {
        eprintln!("skipped: no scheduler cases directory");
        return;
    }
    let have_crm_mon = Command::new("crm_mon").arg("--version").output().is_ok();
    let tmp = std::env::temp_dir().join(format!("ferrosync-cleanup-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut checked = 0;
    for name in [
        "bug-5025-2",
        "failcount",
        "bug-lf-2619",
        "clone-anon-failcount",
        "bug-cl-5247",
        "stonith-0",
    ] {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.xml"))) else {
            continue;
        };
        let doc = CibDocument::parse(&text).unwrap();
        let cib = cib::Cib::parse(&text).unwrap();
        let before = status(&cib, &scheduler::Options::at(0));
        let Some(f) = before.failures.first().cloned() else {
            continue;
        };
        // The failed resource as configured (clone instances by their base).
        let rsc = clone_strip(&f.rsc).to_string();
        if before.cluster.rsc_by_id(&rsc).is_none() {
            continue;
        }
        let opts = CleanupOptions {
            rsc: Some(rsc.clone()),
            kind: CleanupKind::Failures,
            ..Default::default()
        };
        let ops = admin::resource_cleanup(&doc, &opts, 0).unwrap();
        assert!(!ops.is_empty(), "{name}: nothing to clean for {rsc}");
        let plan = admin::resource_cleanup_plan(&doc, &opts, 0).unwrap();
        assert_eq!(plan.fail_attributes.len() + plan.history.len(), ops.len());
        assert!(plan
            .fail_attributes
            .iter()
            .all(|a| a.name.starts_with("fail-count-") || a.name.starts_with("last-failure-")));
        let new = applied(&doc, &ops);
        let after = status(
            &cib::Cib::from_element(new.root().clone()).unwrap(),
            &scheduler::Options::at(0),
        );
        assert!(
            !after.failures.iter().any(|g| clone_strip(&g.rsc) == rsc),
            "{name}: failures of {rsc} left: {:?}",
            after.failures
        );
        let text_after = after.text(&MonOptions {
            fail_counts: true,
            ..Default::default()
        });
        assert!(
            !text_after.contains(&format!("* {rsc}: migration-threshold")),
            "{name}:\n{text_after}"
        );
        if have_crm_mon {
            let file = tmp.join(format!("{name}.xml"));
            std::fs::write(&file, new.to_xml()).unwrap();
            let out = Command::new("crm_mon")
                .env("CIB_file", &file)
                .args(["-1", "-f"])
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&out.stdout);
            assert!(
                !out.contains(&format!("* {rsc}: migration-threshold")),
                "{name}: crm_mon:\n{out}"
            );
            let failed = out.split("Failed Resource Actions:").nth(1).unwrap_or("");
            assert!(
                !failed
                    .lines()
                    .any(|l| l.trim_start_matches([' ', '*']).starts_with(&format!("{rsc} "))),
                "{name}: crm_mon still lists failures of {rsc}:\n{out}"
            );
        }
        checked += 1;
    }
    std::fs::remove_dir_all(&tmp).ok();
    assert!(
        checked >= 3 || !dir.join("failcount.xml").exists(),
        "too few cases checked: {checked}"
    );
}

/// The JSON status has the documented shape.
#[test]
fn status_json_shape() {
    let cib = cib::Cib::parse(REFERENCE).unwrap();
    let st = status(&cib, &scheduler::Options::at(0));
    let v = st.json(&MonOptions {
        last_updated: "now".into(),
        ..Default::default()
    });
    let s = &v["summary"];
    assert_eq!(s["dc"]["name"], "node2");
    assert_eq!(s["nodes_configured"], 2);
    assert_eq!(s["resources_configured"], 3);
    assert_eq!(v["nodes"][0]["name"], "node1");
    assert_eq!(v["nodes"][0]["online"], true);
    let rscs = v["resources"].as_array().unwrap();
    let web = rscs.iter().find(|r| r["id"] == "web").expect("group web");
    assert_eq!(web["kind"], "group");
    let vip = &web["children"][0];
    assert_eq!(vip["agent"], "ocf:heartbeat:IPaddr2");
    assert_eq!(vip["role"], "Started");
    assert_eq!(vip["nodes"][0], "node1");
    assert!(v["failures"].as_array().unwrap().is_empty());
}

/// Deleting tagged resources drops their tag references, then the tag.
#[test]
fn delete_drops_tag_references() {
    let Ok(text) = std::fs::read_to_string(cases_dir().join("colocation-influence.xml")) else {
        eprintln!("skipped: no scheduler cases directory");
        return;
    };
    let doc = CibDocument::parse(&text).unwrap();
    let tag = "/cib/configuration/tags/tag[@id='tag12']";
    let new = applied(&doc, &admin::resource_delete(&doc, "rsc12a").unwrap());
    assert_eq!(new.find(tag).unwrap().elements().count(), 1);
    let new = applied(&new, &admin::resource_delete(&new, "rsc12b").unwrap());
    assert!(new.find(tag).is_none());
}
