//! The log lines operators rely on: a slow client's disconnect names its pid; a refused
//! client is logged like corosync ("Denied … connection attempt from uid:gid").

mod common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use common::{event, Harness};
use ipc::{Client, IpcError};

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged by this test process so far.
fn logs() -> String {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let w = Capture(buf.clone());
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || w.clone())
            .init();
        buf
    });
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

#[test]
fn slow_client_disconnect_names_the_pid() {
    logs();
    let h = Harness::start("logslow", |c| {
        c.max_msg_size = 4096;
        c.event_queue_max = 2;
    });
    let _c = Client::connect_with(&h.service, 4096).unwrap();
    let (conn, _) = h.expect_connected();
    let mut overflowed = false;
    for i in 0..100 {
        if let Err(e) = h.send_event(conn, event(i, &[0u8; 1000])) {
            assert!(matches!(e, IpcError::EventQueueOverflow), "{e}");
            overflowed = true;
            break;
        }
    }
    assert!(overflowed);
    h.expect_disconnected(conn);
    let pid = std::process::id();
    let line = logs()
        .lines()
        .find(|l| l.contains("too slow"))
        .map(str::to_owned)
        .expect("a slow-client log line");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("disconnecting pid {pid}")), "{line}");
}

const CHILD_ENV: &str = "IPC_TEST_REFUSED_SERVICE";

/// Parent: re-runs this test as uid/gid 65534, which the default policy refuses. Child:
/// connects and prints what happened.
#[test]
fn refused_client_is_logged_like_corosync() {
    if let Ok(service) = std::env::var(CHILD_ENV) {
        match Client::connect(&service) {
            Err(IpcError::Refused(errno)) => println!("child-refused {errno}"),
            other => println!("child-unexpected {other:?}"),
        }
        return;
    }
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipping: needs root to run a client as another user");
        return;
    }
    logs();
    let h = Harness::start("logacl", |_| {});
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "refused_client_is_logged_like_corosync",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &h.service)
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.is_empty() && !out.status.success() {
        println!(
            "skipping: the test binary cannot run as uid 65534 here ({})",
            out.status
        );
        return;
    }
    assert!(stdout.contains(&format!("child-refused {}", libc::EACCES)), "{stdout}");
    assert!(
        h.try_event(std::time::Duration::from_millis(100)).is_none(),
        "never Connected"
    );
    let log = logs();
    let line = log
        .lines()
        .find(|l| l.contains("Denied IPC connection attempt"))
        .expect("a denial log line");
    assert!(line.contains("ERROR") && line.contains("from 65534:65534"), "{line}");
}
