//! A promotable clone of Pacemaker's own `ocf:pacemaker:Stateful`, unmodified, on a
//! live 3-node cluster (`crm_daemon::local::LocalCrm`): the agent sets its promotion
//! score with `crm_attribute --promotion`, which ferrosync-crmd serves (the `ferrosync`
//! binary under that name in the agents' HA_SBIN_DIR); the scheduler promotes one
//! instance from those scores; kill -9 of the promoted node → fenced → another instance
//! promoted. Then the tools by hand, as an operator or an agent calls them:
//! `crm_attribute` (transient, permanent, options), `attrd_updater`, `crm_node`.
//! Root only, and only where Pacemaker's agents are installed (skipped elsewhere).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crm_daemon::local::{fence_agent_dir, LocalCrm, LocalCrmError, Programs};
use engine::local_cluster::{ClusterError, Spec};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const STATEFUL: &str = "/usr/lib/ocf/resource.d/pacemaker/Stateful";

fn ferrosync() -> PathBuf {
    env!("CARGO_BIN_EXE_ferrosync").into()
}

fn wait_for(what: &str, c: &LocalCrm, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < end, "{what}: not within {WAIT:?}\n{}", c.logs(60));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The role Stateful recorded on each live node (its state file, in the node's HA_VARRUN).
fn roles(c: &LocalCrm) -> Vec<(u32, String)> {
    (1..=c.nodes())
        .filter(|&n| c.crmd_alive(n))
        .filter_map(|n| {
            let s = std::fs::read_to_string(c.rsctmp(n).join("Stateful-st.state")).ok()?;
            Some((n, s.trim().to_string()))
        })
        .collect()
}

fn promoted(c: &LocalCrm) -> Vec<u32> {
    roles(c)
        .into_iter()
        .filter(|(_, r)| r == "Promoted")
        .map(|(n, _)| n)
        .collect()
}

fn unpromoted(c: &LocalCrm) -> Vec<u32> {
    roles(c)
        .into_iter()
        .filter(|(_, r)| r == "Unpromoted")
        .map(|(n, _)| n)
        .collect()
}

struct Tools {
    dir: PathBuf,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Tools {
    fn new(dir: &Path) -> Tools {
        std::fs::create_dir_all(dir).unwrap();
        for name in ["crm_attribute", "crm_master", "attrd_updater", "crm_node"] {
            std::os::unix::fs::symlink(ferrosync(), dir.join(name)).unwrap();
        }
        Tools { dir: dir.to_path_buf() }
    }

    /// Runs tool `name` against node `n`'s CRM, with `env` added.
    fn run(&self, c: &LocalCrm, n: u32, name: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
        let out = Command::new(self.dir.join(name))
            .args(args)
            .env("FERROSYNC_CRM_SOCKET", c.socket(n))
            .env_remove("OCF_RESKEY_CRM_meta_on_node")
            .env_remove("OCF_RESOURCE_INSTANCE")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, c: &LocalCrm, n: u32, name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let o = self.run(c, n, name, args, env);
        assert_eq!(o.code, 0, "{name} {args:?}: {}{}", o.stdout, o.stderr);
        o.stdout
    }
}

#[test]
fn stateful_promotes_through_crm_attribute_and_fails_over() {
    if !Path::new(STATEFUL).exists() {
        eprintln!("SKIP: {STATEFUL} is not installed (Debian: pacemaker)");
        return;
    }
    let bin = ferrosync();
    let scratch = tempfile::tempdir().unwrap();
    let programs = Programs {
        ferrosyncd: bin.with_file_name("ferrosyncd"),
        crmd: bin.with_file_name("ferrosync-crmd"),
        fence_agents: fence_agent_dir(&scratch.path().join("fence")).unwrap(),
        ocf_root: "/usr/lib/ocf".into(),
        tools: Some(bin.clone()),
    };
    assert!(programs.crmd.exists(), "build the workspace first (ferrosync-crmd)");
    let spec = Spec {
        netns: Some(format!("fcp{}-", std::process::id())),
        ..Spec::new(programs.ferrosyncd.clone(), 3, [10, 215, 0], 5405, 1000)
    };
    let mut c = match LocalCrm::start(spec, programs) {
        Ok(c) => c,
        Err(LocalCrmError::Cluster(ClusterError::Netns(why))) => {
            eprintln!("SKIP: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();

    let mut cfg = c.dummy_config("unused", ("pacemaker", "Dummy"), "60s");
    let hosts = "node1 node2 node3";
    let resources = format!(
        "<resources>\
<primitive id='fence' class='stonith' type='fence_ferrosync_test'><instance_attributes id='fence-ia'>\
<nvpair id='fence-sd' name='state_dir' value='{}'/><nvpair id='fence-hl' name='pcmk_host_list' value='{hosts}'/>\
</instance_attributes></primitive>\
<clone id='st-clone'><meta_attributes id='st-clone-meta'><nvpair id='st-clone-promotable' name='promotable' value='true'/></meta_attributes>\
<primitive id='st' class='ocf' provider='pacemaker' type='Stateful'><operations>\
<op id='st-monitor-promoted' name='monitor' interval='3s' role='Promoted' timeout='20s'/>\
<op id='st-monitor-unpromoted' name='monitor' interval='4s' role='Unpromoted' timeout='20s'/>\
</operations></primitive></clone></resources>",
        c.fence_dir.display()
    );
    cfg["ops"][1] = json!({"op": "replace", "section": "resources", "xml": resources});
    let answer = c.ask(1, &cfg).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");

    // Every instance starts unpromoted and sets its score (5); one is promoted (10).
    wait_for("one promoted, two unpromoted", &c, || {
        promoted(&c).len() == 1 && unpromoted(&c).len() == 2
    });
    let first = promoted(&c)[0];
    eprintln!("roles: {:?}", roles(&c));
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();
    let tools = Tools::new(&scratch.path().join("tools"));
    for n in 1..=3u32 {
        let node = format!("node{n}");
        let score = tools.ok(
            &c,
            1,
            "crm_attribute",
            &["-N", &node, "-l", "reboot", "-n", "master-st", "-G", "-q"],
            &[],
        );
        let want = if n == first { "10" } else { "5" };
        assert_eq!(score.trim(), want, "the promotion score Stateful set on {node}");
    }
    // Two states agree: the scores are in the CIB status too (written by the DC).
    let cib = c.query(2).unwrap().to_xml();
    assert_eq!(cib.matches("name=\"master-st\"").count(), 3, "{cib}");

    // kill -9 of the promoted node: fenced, another instance promoted.
    c.power_off(first).unwrap();
    wait_for("another instance promoted", &c, || {
        let p = promoted(&c);
        p.len() == 1 && p[0] != first && unpromoted(&c).len() == 1
    });
    let fenced = std::fs::read_to_string(c.fence_dir.join("requests.log")).unwrap_or_default();
    assert!(
        fenced
            .lines()
            .any(|l| (l.contains("action=off") || l.contains("action=reboot")) && l.contains(&format!("node{first}"))),
        "node{first} fenced: {fenced}"
    );

    eprintln!("after failover: {:?}", roles(&c));
    let live: Vec<u32> = (1..=3).filter(|&n| n != first).collect();
    let a = live[0];
    // The tools by hand on a surviving node.
    assert_eq!(tools.ok(&c, a, "crm_node", &["-n"], &[]).trim(), format!("node{a}"));
    assert_eq!(tools.ok(&c, a, "crm_node", &["-i"], &[]).trim(), a.to_string());
    assert_eq!(tools.ok(&c, a, "crm_node", &["-q"], &[]).trim(), "1");
    let list = tools.ok(&c, a, "crm_node", &["-l"], &[]);
    assert!(list.contains(&format!("{first} node{first} lost")), "{list}");
    assert!(list.contains(&format!("{a} node{a} member")), "{list}");
    // The agent's view: OCF_RESKEY_CRM_meta_on_node names the node.
    let b = live[1];
    let on_b = [("OCF_RESKEY_CRM_meta_on_node", format!("node{b}"))];
    let env: Vec<(&str, &str)> = on_b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tools.ok(&c, a, "attrd_updater", &["-n", "pingd", "-U", "1000"], &env);
    wait_for("attrd_updater's value everywhere", &c, || {
        tools
            .run(&c, a, "attrd_updater", &["-n", "pingd", "-Q", "-A"], &[])
            .stdout
            == format!("name=\"pingd\" host=\"node{b}\" value=\"1000\"\n")
    });
    tools.ok(&c, a, "attrd_updater", &["-n", "pingd", "-D"], &env);
    wait_for("attrd_updater -D", &c, || {
        tools
            .run(&c, a, "attrd_updater", &["-n", "pingd", "-Q", "-A"], &[])
            .code
            == 78
    });
    // Permanent node attributes and cluster options.
    tools.ok(
        &c,
        a,
        "crm_attribute",
        &["-N", &format!("node{b}"), "-n", "rack", "-v", "r7"],
        &[],
    );
    let rack = tools.ok(
        &c,
        a,
        "crm_attribute",
        &["-N", &format!("node{b}"), "-n", "rack", "-G"],
        &[],
    );
    assert_eq!(rack.trim(), "scope=nodes  name=rack value=r7");
    tools.ok(
        &c,
        a,
        "crm_attribute",
        &["-t", "rsc_defaults", "-n", "resource-stickiness", "-v", "3"],
        &[],
    );
    let sticky = tools.ok(
        &c,
        a,
        "crm_attribute",
        &["-t", "rsc_defaults", "-n", "resource-stickiness", "-G", "-q"],
        &[],
    );
    assert_eq!(sticky.trim(), "3");
    // Errors as Pacemaker's tools give them.
    let o = tools.run(&c, a, "crm_attribute", &["-N", "nosuchnode", "-n", "x", "-v", "1"], &[]);
    assert_eq!(o.code, 105, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("Could not map name=nosuchnode"), "{}", o.stderr);
    let o = tools.run(&c, a, "crm_attribute", &["-n", "no-such-option", "-G"], &[]);
    assert_eq!(o.code, 105, "{}{}", o.stdout, o.stderr);
    let o = tools.run(&c, a, "crm_attribute", &["--promotion", "-v", "1"], &[]);
    assert_eq!(o.code, 64, "{}{}", o.stdout, o.stderr);
    let o = Command::new(tools.dir.join("crm_node"))
        .arg("-n")
        .env("FERROSYNC_CRM_SOCKET", scratch.path().join("nothing.sock"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(102), "no daemon: {o:?}");
}
