//! The parameters of a bundle replica's implicit container resource, as
//! Pacemaker generates them (`create_container_resource`,
//! lib/pengine/bundle.c:195-422): they are what the container's history
//! digests were computed from, and what its graph actions carry.

use cib::{BundleDef, BundleMount, BundlePort};

/// Where pacemaker-remoted's key is, on the host and in the container.
const AUTHKEY: &str = "/etc/pacemaker/authkey";
/// Host directory under which each replica gets its log directory.
const BUNDLE_LOG_DIR: &str = "/var/log/pacemaker/bundles";
/// pacemaker-remoted as installed by Debian's packages (`SBIN_DIR`).
const REMOTED: &str = "/usr/sbin/pacemaker-remoted";
/// `DEFAULT_REMOTE_PORT`.
const REMOTE_PORT: &str = "3121";

/// How the container agent spells what differs between agents.
struct Syntax {
    hostname: &'static str,
    env: &'static str,
    rkt: bool,
}

impl Syntax {
    fn of(runtime: &str) -> Syntax {
        if runtime == "rkt" {
            Syntax {
                hostname: "--hostname=",
                env: "--environment=",
                rkt: true,
            }
        } else {
            Syntax {
                hostname: "-h ",
                env: "-e ",
                rkt: false,
            }
        }
    }
}

/// The mounts of every replica: the configured ones, then, when the bundle
/// runs a resource, pacemaker-remoted's key and (unless a mapping already
/// targets `/var/log`) a log directory per replica (`pe__unpack_bundle`,
/// lib/pengine/bundle.c:855-875 and 965-971).
fn mounts(bd: &BundleDef) -> Vec<BundleMount> {
    let mut out = bd.mounts.clone();
    if bd.child.is_some() {
        out.push(BundleMount {
            source: AUTHKEY.into(),
            target: AUTHKEY.into(),
            options: None,
            per_replica: false,
        });
        if !bd.mounts.iter().any(|m| m.target == "/var/log") {
            out.push(BundleMount {
                source: BUNDLE_LOG_DIR.into(),
                target: "/var/log".into(),
                options: None,
                per_replica: true,
            });
        }
    }
    out
}

/// The port mappings: the configured ones, then pacemaker-remoted's port
/// when the bundle runs a resource (lib/pengine/bundle.c:973-989).
fn ports(bd: &BundleDef) -> Vec<BundlePort> {
    let mut out = bd.ports.clone();
    if bd.child.is_some() {
        let port = bd.control_port.clone().unwrap_or_else(|| REMOTE_PORT.into());
        out.push(BundlePort {
            source: port.clone(),
            target: port,
        });
    }
    out
}

/// The host-name entries of all replicas, which every container gets
/// (`allocate_ip`, lib/pengine/bundle.c:54-91); `addresses` are the
/// replicas' IP addresses when the bundle has an IP range.
pub(super) fn host_options(bd: &BundleDef, id: &str, addresses: &[Option<String>]) -> String {
    let syntax = Syntax::of(&bd.runtime);
    let mut out = String::new();
    for (i, addr) in addresses.iter().enumerate() {
        let Some(addr) = addr else { continue };
        if bd.add_host && !syntax.rkt {
            out.push_str(&format!(" --add-host={id}-{i}:{addr}"));
        } else {
            out.push_str(&format!(" --hosts-entry={addr}={id}-{i}"));
        }
    }
    out
}

/// The container parameters of replica `offset` of bundle `id`, in
/// Pacemaker's order (`image`, `allow_pull`, `force_kill`, `reuse`,
/// `run_opts`, `mount_points`, then `run_cmd` and `monitor_cmd`).
pub(super) fn params(
    bd: &BundleDef,
    id: &str,
    offset: usize,
    address: Option<&str>,
    host_options: &str,
) -> Vec<(String, String)> {
    let syntax = Syntax::of(&bd.runtime);
    let mut run = String::new();
    if bd.runtime == "docker" {
        run.push_str(" --restart=no");
    }
    // A host name only where there is an address to map it to.
    if bd.ip_range_start.is_some() {
        run.push_str(&format!(" {}{id}-{offset}", syntax.hostname));
    }
    run.push_str(&format!(" {}PCMK_stderr=1", syntax.env));
    if let Some(net) = &bd.container_network {
        run.push_str(&format!(" --net={net}"));
    }
    let port = bd.control_port.as_deref().unwrap_or(REMOTE_PORT);
    run.push_str(&format!(" {}PCMK_remote_port={port}", syntax.env));
    let mut per_replica = Vec::new();
    for (volume, m) in mounts(bd).iter().enumerate() {
        let source = if m.per_replica {
            let dir = format!("{}/{id}-{offset}", m.source);
            per_replica.push(dir.clone());
            dir
        } else {
            m.source.clone()
        };
        if syntax.rkt {
            let opts = m.options.as_deref().map(|o| format!(",{o}")).unwrap_or_default();
            run.push_str(&format!(
                " --volume vol{volume},kind=host,source={source}{opts} --mount volume=vol{volume},target={}",
                m.target
            ));
        } else {
            run.push_str(&format!(" -v {source}:{}", m.target));
            if let Some(o) = &m.options {
                run.push_str(&format!(":{o}"));
            }
        }
    }
    for p in ports(bd) {
        match (syntax.rkt, address) {
            (true, Some(a)) => run.push_str(&format!(" --port={}:{a}:{}", p.target, p.source)),
            (true, None) => run.push_str(&format!(" --port={}:{}", p.target, p.source)),
            (false, Some(a)) => run.push_str(&format!(" -p {a}:{}:{}", p.source, p.target)),
            // No mapping needed with the host's network.
            (false, None) if bd.container_network.as_deref() != Some("host") => {
                run.push_str(&format!(" -p {}:{}", p.source, p.target));
            }
            (false, None) => {}
        }
    }
    // Appended even when empty (lib/pengine/bundle.c:346-363): the host
    // options always are, so the value ends in a space at least.
    if let Some(o) = &bd.launcher_options {
        run.push_str(&format!(" {o}"));
    }
    run.push_str(&format!(" {host_options}"));
    let mut out = vec![
        ("image".to_string(), bd.image.clone()),
        ("allow_pull".into(), "true".into()),
        ("force_kill".into(), "false".into()),
        ("reuse".into(), "false".into()),
        ("run_opts".into(), run),
        ("mount_points".into(), per_replica.join(",")),
    ];
    let run_cmd = match (&bd.run_command, bd.child.is_some()) {
        (Some(cmd), _) => Some(cmd.clone()),
        (None, true) => Some(REMOTED.to_string()),
        (None, false) => None,
    };
    if let Some(cmd) = run_cmd {
        out.push(("run_cmd".into(), cmd));
    }
    out.push(("monitor_cmd".into(), "/bin/true".into()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn bundle(xml: &str) -> BundleDef {
        let cib = cib::Cib::parse(&format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\"><configuration><crm_config/><nodes/>\
             <resources>{xml}</resources><constraints/></configuration><status/></cib>"
        ))
        .expect("test CIB parses");
        match &cib.configuration.resources[0].kind {
            cib::ResourceKind::Bundle(bd) => (**bd).clone(),
            _ => panic!("not a bundle"),
        }
    }

    fn digest(params: Vec<(String, String)>) -> String {
        let map: BTreeMap<String, String> = params.into_iter().collect();
        cib::digest::operation_digest(&map, 0, 20_000)
    }

    #[test]
    fn container_parameters_give_the_digests_pacemaker_recorded() {
        // bundle-nested-colocation's galera containers (no resource inside)
        // and bundle-order-startup-clone-2's redis containers (with one):
        // the op-digests of their starts in the cases' histories.
        let naked = bundle(
            "<bundle id=\"g\"><docker image=\"img\" network=\"host\" options=\"--user=root\" replicas=\"2\"/>\
             <network control-port=\"3123\"/><storage>\
             <storage-mapping id=\"m1\" options=\"ro\" source-dir=\"/etc/hosts\" target-dir=\"/etc/hosts\"/>\
             </storage></bundle>",
        );
        let run_opts = " --restart=no -e PCMK_stderr=1 --net=host -e PCMK_remote_port=3123 \
                        -v /etc/hosts:/etc/hosts:ro --user=root ";
        let p = params(&naked, "g", 1, None, "");
        assert_eq!(p[4], ("run_opts".to_string(), run_opts.to_string()));
        assert_eq!(p[5], ("mount_points".to_string(), String::new()));
        assert_eq!(p.last().map(|(k, _)| k.as_str()), Some("monitor_cmd"));
        assert!(!p.iter().any(|(k, _)| k == "run_cmd"));

        let with_child = bundle(
            "<bundle id=\"r\"><podman image=\"img\" replicas=\"2\"/>\
             <network ip-range-start=\"10.0.0.5\"><port-mapping id=\"p\" port=\"80\"/></network>\
             <storage><storage-mapping id=\"m\" source-dir-root=\"/srv\" target-dir=\"/srv\"/></storage>\
             <primitive id=\"c\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></bundle>",
        );
        let hosts = host_options(&with_child, "r", &[Some("10.0.0.5".into()), Some("10.0.0.6".into())]);
        assert_eq!(hosts, " --add-host=r-0:10.0.0.5 --add-host=r-1:10.0.0.6");
        let p: BTreeMap<String, String> = params(&with_child, "r", 1, Some("10.0.0.6"), &hosts)
            .into_iter()
            .collect();
        assert_eq!(
            p["run_opts"],
            " -h r-1 -e PCMK_stderr=1 -e PCMK_remote_port=3121 -v /srv/r-1:/srv \
             -v /etc/pacemaker/authkey:/etc/pacemaker/authkey -v /var/log/pacemaker/bundles/r-1:/var/log \
             -p 10.0.0.6:80:80 -p 10.0.0.6:3121:3121  --add-host=r-0:10.0.0.5 --add-host=r-1:10.0.0.6"
        );
        assert_eq!(p["mount_points"], "/srv/r-1,/var/log/pacemaker/bundles/r-1");
        assert_eq!(p["run_cmd"], REMOTED);

        // The digest of the galera container's start recorded in
        // bundle-nested-colocation.
        let galera = bundle(
            "<bundle id=\"galera-bundle\"><docker image=\"192.168.24.1:8787/tripleoupstream/centos-binary-mariadb:latest\" \
             promoted-max=\"3\" network=\"host\" options=\"--user=root --log-driver=journald -e KOLLA_CONFIG_STRATEGY=COPY_ALWAYS\" \
             replicas=\"3\" run-command=\"/bin/bash /usr/local/bin/kolla_start\"/><network control-port=\"3123\"/><storage>\
             <storage-mapping id=\"a\" options=\"ro\" source-dir=\"/var/lib/kolla/config_files/mysql.json\" target-dir=\"/var/lib/kolla/config_files/config.json\"/>\
             <storage-mapping id=\"b\" options=\"ro\" source-dir=\"/var/lib/config-data/puppet-generated/mysql/\" target-dir=\"/var/lib/kolla/config_files/src\"/>\
             <storage-mapping id=\"c\" options=\"ro\" source-dir=\"/etc/hosts\" target-dir=\"/etc/hosts\"/>\
             <storage-mapping id=\"d\" options=\"ro\" source-dir=\"/etc/localtime\" target-dir=\"/etc/localtime\"/>\
             <storage-mapping id=\"e\" options=\"rw\" source-dir=\"/var/lib/mysql\" target-dir=\"/var/lib/mysql\"/>\
             <storage-mapping id=\"f\" options=\"rw\" source-dir=\"/var/log/mariadb\" target-dir=\"/var/log/mariadb\"/>\
             <storage-mapping id=\"g\" options=\"ro\" source-dir=\"/etc/pki/ca-trust/extracted\" target-dir=\"/etc/pki/ca-trust/extracted\"/>\
             <storage-mapping id=\"h\" options=\"ro\" source-dir=\"/etc/pki/tls/certs/ca-bundle.crt\" target-dir=\"/etc/pki/tls/certs/ca-bundle.crt\"/>\
             <storage-mapping id=\"i\" options=\"ro\" source-dir=\"/etc/pki/tls/certs/ca-bundle.trust.crt\" target-dir=\"/etc/pki/tls/certs/ca-bundle.trust.crt\"/>\
             <storage-mapping id=\"j\" options=\"ro\" source-dir=\"/etc/pki/tls/cert.pem\" target-dir=\"/etc/pki/tls/cert.pem\"/>\
             <storage-mapping id=\"k\" options=\"rw\" source-dir=\"/dev/log\" target-dir=\"/dev/log\"/>\
             </storage></bundle>",
        );
        assert_eq!(
            digest(params(&galera, "galera-bundle", 0, None, "")),
            "4672b28c350bc4f5445fd6678c0c2a56"
        );
    }
}
