use super::*;

const DEBIAN: &str = include_str!("../../tests/data/debian-3.1.7.conf");
const CAPTURE: &str = include_str!("../../tests/data/capture.conf");

fn conf(text: &str) -> Result<ClusterConfig, ConfError> {
    ClusterConfig::from_text("test.conf", text)
}

/// A one-node udpu file whose totem section has `totem_extra` after `transport` (its
/// first line is line 3 of the file).
fn one_node(totem_extra: &str) -> Result<ClusterConfig, ConfError> {
    conf(&format!(
        "totem {{\n transport: udpu\n{totem_extra}}}\nnodelist {{\n node {{\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }}\n}}\n"
    ))
}

#[test]
fn debian_config_loads_unchanged() {
    let c = conf(DEBIAN).unwrap();
    assert_eq!(c.cluster_name, "debian");
    assert_eq!(c.transport, TransportKind::Knet);
    assert_eq!(c.nodes.len(), 1);
    assert_eq!(c.nodes[0].nodeid, 1);
    assert_eq!(c.nodes[0].ring0(), "127.0.0.1:5405".parse().unwrap());
    assert_eq!(c.nodes[0].name.as_deref(), Some("node1"));
    // Only the transport warning: every key of the stock file is known.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.logging.to_logfile);
    assert!(!c.logging.debug);
    assert_eq!(c.totem.token, Duration::from_millis(3000));
}

#[test]
fn capture_config_derives_corosync_timers() {
    let c = conf(CAPTURE).unwrap();
    assert_eq!(c.transport, TransportKind::Udpu);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.nodes.len(), 3);
    // 3000 + 650 per node beyond 2.
    assert_eq!(c.totem.token, Duration::from_millis(3650));
    assert_eq!(c.totem.consensus, Duration::from_millis(4380));
    assert_eq!(c.totem.token_retransmit.as_millis(), 869);
    assert_eq!(c.totem.frame_mtu, 1410);
    assert!(c.block_unlisted_ips);
    assert!(c.logging.debug);
}

#[test]
fn explicit_timers_and_port() {
    let text = "totem {\n transport: udpu\n token: 1000\n token_coefficient: 0\n consensus: 1500\n join: 60\n \
                interface {\n  linknumber: 0\n  mcastport: 6000\n }\n}\nnodelist {\n node {\n  ring0_addr: ::1\n  \
                nodeid: 7\n }\n}\n";
    let c = conf(text).unwrap();
    assert_eq!(c.totem.token, Duration::from_millis(1000));
    assert_eq!(c.totem.consensus, Duration::from_millis(1500));
    assert_eq!(c.totem.join, Duration::from_millis(60));
    assert_eq!(c.mcastport, 6000);
    assert_eq!(c.nodes[0].ring0(), "[::1]:6000".parse().unwrap());
}

#[test]
fn fail_silent_after_is_configurable_and_zero_is_corosyncs_behaviour() {
    let default = one_node("").unwrap();
    assert_eq!(default.totem.fail_silent_after, Duration::from_millis(200));
    let off = one_node(" fail_silent_after: 0\n").unwrap();
    assert!(off.warnings.is_empty(), "{:?}", off.warnings);
    assert_eq!(off.totem.fail_silent_after, Duration::ZERO);
    let short = one_node(" fail_silent_after: 10\n").unwrap_err();
    assert!(
        short.to_string().contains("test.conf:3: totem.fail_silent_after"),
        "{short}"
    );
}

#[test]
fn secauth_on_means_crypto_or_a_refusal() {
    let on = one_node(" secauth: on\n").unwrap();
    assert!(on.crypto, "secauth: on alone turns AES-256-GCM on");
    assert_eq!(
        (on.crypto_cipher.as_str(), on.crypto_hash.as_str()),
        ("aes256", "sha256")
    );
    let off = one_node(" secauth: on\n crypto_cipher: none\n");
    let err = off.unwrap_err().to_string();
    assert!(err.contains("refusing to run without crypto"), "{err}");
    let plain = one_node(" secauth: off\n").unwrap();
    assert!(!plain.crypto);
}

#[test]
fn corosync_paths_are_the_fallback() {
    let dir = std::env::temp_dir().join(format!("ferrosync-fallback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("ours");
    let theirs = dir.join("theirs");
    let (o, t) = (ours.to_str().unwrap(), theirs.to_str().unwrap());
    assert_eq!(
        first_existing(&[o, t]),
        ours,
        "neither exists: ours, to be reported missing"
    );
    std::fs::write(&theirs, "x").unwrap();
    assert_eq!(first_existing(&[o, t]), theirs);
    std::fs::write(&ours, "x").unwrap();
    assert_eq!(first_existing(&[o, t]), ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_keys_warn_with_line() {
    let text = "totem {\n transport: udpu\n frobnicate: 3\n}\nextra {\n a: b\n}\nnodelist {\n node {\n  \
                ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n}\n";
    let c = conf(text).unwrap();
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    assert_eq!(c.warnings[0], "test.conf:3: unknown key totem.frobnicate, ignored");
    assert!(c.warnings[1].starts_with("test.conf:6: unknown section \"extra\""));
}

#[test]
fn token_visits_default_to_512_of_1536_and_follow_the_file() {
    let visit = |c: ClusterConfig| (c.totem.max_messages, c.totem.window_size);
    assert_eq!(visit(one_node("").unwrap()), DEFAULT_WINDOW);
    assert_eq!(
        visit(one_node(" max_messages: 17\n window_size: 50\n").unwrap()),
        (17, 50)
    );
    // corosync accepts a window below our default visit; the visit follows it.
    assert_eq!(visit(one_node(" window_size: 30\n").unwrap()), (30, 30));
    assert_eq!(visit(one_node(" max_messages: 100\n").unwrap()), (100, 1536));
    let e = one_node(" max_messages: 2000\n").unwrap_err().to_string();
    assert!(e.contains("totem.window_size"), "{e}");
}

#[test]
fn token_batch_hold_is_configurable_below_a_millisecond() {
    assert_eq!(one_node("").unwrap().token_batch_hold, crate::token_batch::DEFAULT_HOLD);
    let off = one_node(" token_batch_hold_us: 0\n").unwrap();
    assert!(off.warnings.is_empty(), "{:?}", off.warnings);
    assert_eq!(off.token_batch_hold, Duration::ZERO);
    assert_eq!(
        one_node(" token_batch_hold_us: 250\n").unwrap().token_batch_hold,
        Duration::from_micros(250)
    );
    let e = one_node(" token_batch_hold_us: 1000\n").unwrap_err().to_string();
    assert!(
        e.starts_with("test.conf:3: totem.token_batch_hold_us: 1000 is out of range"),
        "{e}"
    );
}

#[test]
fn bad_values_fail_with_file_line_and_message() {
    let base = |totem_extra: &str, node_extra: &str| {
        format!(
            "totem {{\n transport: udpu\n{totem_extra}}}\nnodelist {{\n node {{\n  ring0_addr: 127.0.0.1\n  \
             nodeid: 1\n{node_extra} }}\n}}\n"
        )
    };
    let e = conf(&base(" token: soon\n", "")).unwrap_err().to_string();
    assert_eq!(e, "test.conf:3: totem.token: \"soon\" is not a non-negative integer");
    let e = conf(&base(" transport: tcp\n", "")).unwrap_err().to_string();
    assert_eq!(e, "test.conf:3: totem.transport: \"tcp\" is not one of udpu, udp, knet");
    let e = conf(&base(" token: 1000\n consensus: 500\n", ""))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("test.conf:4: totem.consensus:"), "{e}");
    let e = conf(&base("", "  ring1_addr: not an address!\n"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("test.conf:8: ring1_addr: cannot resolve"), "{e}");
    let e = conf(&base(" version: 3\n", "")).unwrap_err().to_string();
    assert!(e.starts_with("test.conf:3: totem.version: 3 is out of range"), "{e}");
    let e = conf(&base(" block_unlisted_ips: maybe\n", "")).unwrap_err().to_string();
    assert!(e.starts_with("test.conf:3: totem.block_unlisted_ips:"), "{e}");
}

#[test]
fn nodelist_errors() {
    let e = conf("totem {\n transport: udpu\n}\n").unwrap_err().to_string();
    assert!(e.contains("nodelist is empty"), "{e}");
    let dup = "nodelist {\n node {\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n node {\n  ring0_addr: 127.0.0.2\n  \
               nodeid: 1\n }\n}\n";
    let e = conf(dup).unwrap_err().to_string();
    assert_eq!(e, "test.conf:7: nodeid 1 is also used by the node at line 3");
    let e = conf("nodelist {\n node {\n  nodeid: 1\n }\n}\n")
        .unwrap_err()
        .to_string();
    assert_eq!(e, "test.conf:3: node has no ring0_addr");
    // An IPv4 ring0 without nodeid gets one derived from the address, as in corosync.
    let c = conf("nodelist {\n node {\n  ring0_addr: 10.0.0.5\n }\n}\n").unwrap();
    assert_eq!(c.nodes[0].nodeid, 0x0a00_0005);
}

#[test]
fn two_links() {
    let c = conf(
        "totem {\n transport: udpu\n}\nnodelist {\n node {\n  ring0_addr: 127.0.0.1\n  ring1_addr: 127.0.1.1\n  \
         nodeid: 1\n }\n}\n",
    )
    .unwrap();
    assert_eq!(c.nodes[0].links.len(), 2);
    assert_eq!(c.nodes[0].links[1], Some("127.0.1.1:5405".parse().unwrap()));
}

#[test]
fn crypto_settings() {
    let with = |totem: &str| {
        conf(&format!(
            "totem {{\n{totem}}}\nnodelist {{\n node {{\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }}\n}}\n"
        ))
    };
    let c = with(" crypto_cipher: aes256\n crypto_hash: sha256\n keyfile: /k\n").unwrap();
    assert!(c.crypto);
    assert_eq!(c.keyfile, PathBuf::from("/k"));
    assert_eq!(c.totem.frame_mtu, 1410 - transport::crypto::OVERHEAD);
    let c = with("").unwrap();
    assert!(!c.crypto);
    assert_eq!(c.keyfile, first_existing(&[DEFAULT_KEYFILE, COROSYNC_KEYFILE]));
    assert!(with(" crypto_cipher: aes128\n crypto_hash: sha1\n")
        .unwrap_err()
        .to_string()
        .contains("use aes256"));
    assert!(with(" crypto_cipher: aes256\n")
        .unwrap_err()
        .to_string()
        .contains("needs crypto_hash"));
    assert!(with(" crypto_hash: sha1\n")
        .unwrap_err()
        .to_string()
        .contains("authentication only"));
}

#[test]
fn logging_keys_are_honoured() {
    let base = "totem {\n version: 2\n cluster_name: c\n transport: udpu\n}\nnodelist {\n node {\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n}\n";
    let c = conf(&format!(
        "{base}logging {{\n to_syslog: yes\n syslog_facility: local4\n syslog_priority: warning\n \
         logfile_priority: debug\n fileline: on\n timestamp: on\n \
         logger_subsys {{\n  subsys: CPG\n  debug: on\n }}\n logger_subsys {{\n  subsys: QUORUM\n  debug: off\n }}\n}}\n"
    ))
    .unwrap();
    let l = &c.logging;
    assert_eq!(l.syslog_facility, SyslogFacility(20));
    assert_eq!(l.syslog_priority, Priority::Warning);
    assert_eq!(l.logfile_priority, Priority::Debug);
    assert!(l.fileline);
    assert_eq!(l.timestamp, Timestamp::Seconds);
    assert_eq!(l.debug_subsys, ["CPG"]);
    // Defaults: corosync's.
    let d = conf(base).unwrap().logging;
    assert_eq!(
        (
            d.syslog_facility,
            d.syslog_priority,
            d.logfile_priority,
            d.fileline,
            d.timestamp
        ),
        (
            SyslogFacility(3),
            Priority::Info,
            Priority::Info,
            false,
            Timestamp::Hires
        )
    );
    assert!(d.debug_subsys.is_empty());
    // An unknown facility is refused with its line.
    let e = conf(&format!("{base}logging {{\n syslog_facility: local9\n}}\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("syslog_facility") && e.contains("local9"), "{e}");
}

/// A one-node file with `system { system }` after the nodelist (its first line is line 10).
fn with_system(system: &str) -> Result<ClusterConfig, ConfError> {
    conf(&format!(
        "totem {{\n transport: udpu\n}}\nnodelist {{\n node {{\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }}\n}}\nsystem {{\n{system}}}\n"
    ))
}

#[test]
fn scheduling_follows_sched_rr_and_priority() {
    let default = with_system("").unwrap().scheduling;
    assert_eq!(
        default,
        Scheduling {
            sched_rr: SchedRr::Auto,
            nice: None
        }
    );
    let rr = with_system(" sched_rr: yes\n").unwrap();
    assert_eq!(rr.scheduling.sched_rr, SchedRr::Yes);
    assert!(rr.warnings.is_empty(), "{:?}", rr.warnings);
    for (priority, nice) in [("max", -20), ("min", 19), ("-5", -5), ("0", 0), ("19", 19)] {
        let c = with_system(&format!(" sched_rr: no\n priority: {priority}\n")).unwrap();
        assert_eq!(
            c.scheduling,
            Scheduling {
                sched_rr: SchedRr::No,
                nice: Some(nice)
            }
        );
    }
    let auto = with_system(" priority: -10\n").unwrap().scheduling;
    assert_eq!(
        auto,
        Scheduling {
            sched_rr: SchedRr::Auto,
            nice: Some(-10)
        }
    );
    // As corosync: the priority is for the normal policy only.
    let ignored = with_system(" sched_rr: yes\n priority: max\n").unwrap();
    assert_eq!(
        ignored.warnings,
        ["test.conf:12: system.priority is used only with sched_rr: no or auto, ignored"]
    );
    for bad in ["20", "-21", "high", ""] {
        let e = with_system(&format!(" priority: {bad}\n")).unwrap_err().to_string();
        assert!(e.starts_with("test.conf:11: system.priority: "), "{bad}: {e}");
    }
    let e = with_system(" sched_rr: always\n").unwrap_err().to_string();
    assert!(e.starts_with("test.conf:11: system.sched_rr: "), "{e}");
}
