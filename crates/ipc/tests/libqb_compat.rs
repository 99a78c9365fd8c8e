//! Compatibility with the real libqb (Debian `libqb-dev`): a C client built on
//! `qb_ipcc_*` against our server, and our client against a C server built on `qb_ipcs_*`
//! in SHM mode. Each test compiles its C program with `cc … -lqb` in a temporary
//! directory and is skipped, saying so, when `cc` or the libqb headers are missing.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{event, pattern, request, Harness};
use ipc::wire::ResponseHeader;
use ipc::{AccessPolicy, Client, ServerEvent};

const C_CLIENT: &str = r#"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <qb/qbipcc.h>
#include <qb/qbipc_common.h>

#define MAX (1 << 20)
static char resp[MAX];
static char req[MAX];

static int fill(int id, size_t body) {
    struct qb_ipc_request_header *h = (void *)req;
    h->id = id;
    h->size = sizeof(*h) + body;
    for (size_t i = 0; i < body; i++) req[sizeof(*h) + i] = (char)((i * 31) ^ id);
    return h->size;
}

/* usage: qbclient SERVICE EVENTS   (EVENTS < 0: connect, then sleep until killed) */
int main(int argc, char **argv) {
    int events = atoi(argv[2]);
    qb_ipcc_connection_t *c = qb_ipcc_connect(argv[1], MAX);
    if (!c) { printf("connect-failed %d\n", errno); return 2; }
    int fd = -1;
    if (qb_ipcc_fd_get(c, &fd) != 0 || fd < 0) { printf("fd_get failed\n"); return 3; }
    if (events < 0) { printf("connected\n"); fflush(stdout); for (;;) pause(); }
    size_t sizes[] = {0, 1, 5, 1000, 100000, MAX - 24, 3, MAX - 24, 77777};
    for (int i = 0; i < 9; i++) {
        int n = fill(i, sizes[i]);
        struct iovec iov = { req, n };
        ssize_t r = qb_ipcc_sendv_recv(c, &iov, 1, resp, sizeof resp, 5000);
        struct qb_ipc_response_header *rh = (void *)resp;
        if (r != (ssize_t)(24 + sizes[i]) || rh->id != i || rh->size != r || rh->error != 1
            || memcmp(resp + 24, req + 16, sizes[i]) != 0) {
            printf("round trip %d failed: r=%zd\n", i, r);
            return 4;
        }
    }
    printf("round trips ok\n");
    int n = fill(100, 4);
    memcpy(req + 16, &events, 4);
    ssize_t s = qb_ipcc_send(c, req, n);
    if (s != n) { printf("send failed %zd\n", s); return 5; }
    for (int i = 0; i < events; i++) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 5000) != 1) { printf("no POLLIN for event %d\n", i); return 6; }
        ssize_t r = qb_ipcc_event_recv(c, resp, sizeof resp, 5000);
        struct qb_ipc_response_header *rh = (void *)resp;
        if (r < 24 || rh->id != i || rh->size != r) {
            printf("event %d bad: r=%zd\n", i, r);
            return 7;
        }
        for (ssize_t j = 0; j < r - 24; j++) {
            if (resp[24 + j] != (char)((j * 31) ^ i)) { printf("event %d byte %zd\n", i, j); return 8; }
        }
    }
    printf("events ok\n");
    qb_ipcc_disconnect(c);
    printf("done\n");
    return 0;
}
"#;

const C_SERVER: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <qb/qbipcs.h>
#include <qb/qbloop.h>
#include <qb/qbipc_common.h>

static qb_loop_t *loop;
static char buf[1 << 20];

static int32_t accept_fn(qb_ipcs_connection_t *c, uid_t u, gid_t g) { return 0; }
static void created_fn(qb_ipcs_connection_t *c) { }
static int32_t closed_fn(qb_ipcs_connection_t *c) { return 0; }
static void destroyed_fn(qb_ipcs_connection_t *c) { }

static int32_t msg_fn(qb_ipcs_connection_t *c, void *data, size_t size) {
    struct qb_ipc_request_header *h = data;
    if (h->id == 100) { /* no response; send the requested number of events */
        int n;
        memcpy(&n, (char *)data + 16, 4);
        for (int i = 0; i < n; i++) {
            struct qb_ipc_response_header *rh = (void *)buf;
            size_t body = (i * 97) % 1000;
            rh->id = i; rh->size = 24 + body; rh->error = 1;
            for (size_t j = 0; j < body; j++) buf[24 + j] = (char)((j * 31) ^ i);
            ssize_t r = qb_ipcs_event_send(c, buf, rh->size);
            if (r != rh->size) { fprintf(stderr, "event_send %d: %zd\n", i, r); }
        }
        return 0;
    }
    struct qb_ipc_response_header rh = { .id = h->id, .size = 24 + h->size - 16, .error = 1 };
    struct iovec iov[2] = { { &rh, 24 }, { (char *)data + 16, h->size - 16 } };
    ssize_t r = qb_ipcs_response_sendv(c, iov, 2);
    if (r < 0) fprintf(stderr, "response_sendv: %zd\n", r);
    return 0;
}

static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn) {
    return qb_loop_job_add(loop, p, data, fn);
}
static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
                            qb_ipcs_dispatch_fn_t fn) {
    return qb_loop_poll_add(loop, p, fd, evts, data, fn);
}
static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
                            qb_ipcs_dispatch_fn_t fn) {
    return qb_loop_poll_mod(loop, p, fd, evts, data, fn);
}
static int32_t dispatch_del(int32_t fd) { return qb_loop_poll_del(loop, fd); }

int main(int argc, char **argv) {
    struct qb_ipcs_service_handlers sh = {
        .connection_accept = accept_fn, .connection_created = created_fn,
        .msg_process = msg_fn, .connection_closed = closed_fn,
        .connection_destroyed = destroyed_fn,
    };
    struct qb_ipcs_poll_handlers ph = {
        .job_add = job_add, .dispatch_add = dispatch_add,
        .dispatch_mod = dispatch_mod, .dispatch_del = dispatch_del,
    };
    loop = qb_loop_create();
    qb_ipcs_service_t *s = qb_ipcs_create(argv[1], 0, QB_IPC_SHM, &sh);
    if (!s) { perror("qb_ipcs_create"); return 1; }
    qb_ipcs_poll_handlers_set(s, &ph);
    int rc = qb_ipcs_run(s);
    if (rc != 0) { fprintf(stderr, "qb_ipcs_run %d\n", rc); return 1; }
    printf("ready\n");
    fflush(stdout);
    qb_loop_run(loop);
    return 0;
}
"#;

/// Compiles `src` with `-lqb` into `dir`; `None` (after saying why) when the toolchain or
/// libqb's headers are missing.
fn compile(dir: &Path, name: &str, src: &str) -> Option<PathBuf> {
    if !Path::new("/usr/include/qb/qbipcc.h").exists() {
        println!("skipping: libqb headers missing (apt-get install libqb-dev)");
        return None;
    }
    if Command::new("cc").arg("--version").output().is_err() {
        println!("skipping: no C compiler (cc)");
        return None;
    }
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let bin = dir.join(name);
    let out = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&bin)
        .arg(&c)
        .arg("-lqb")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

fn wait_output(mut child: Child, secs: u64) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            return (status, out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves the C client's requests (auto-echo) and, for its id-100 request, sends the
/// events it asks for; returns when it disconnects.
fn serve_c_client(h: &Harness) {
    let (conn, _) = h.expect_connected();
    loop {
        match h.next_event(20) {
            ServerEvent::Request { id: 100, data, .. } => {
                let n = i32::from_ne_bytes(data[16..20].try_into().unwrap());
                for i in 0..n {
                    // 300 × up to 10 KB is more than the 1 MiB event ring: queue and retry.
                    h.send_event(conn, event(i, &pattern((i as usize * 7919) % 10_000, i as u32)))
                        .unwrap();
                }
            }
            ServerEvent::Request { .. } => {}
            ServerEvent::Disconnected { conn: c } if c == conn => return,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn libqb_client_against_our_server() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(bin) = compile(tmp.path(), "qbclient", C_CLIENT) else {
        return;
    };
    let h = Harness::start("libqbc", |_| {});
    let child = Command::new(&bin)
        .arg(&h.service)
        .arg("300")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serve_c_client(&h);
    let (status, out) = wait_output(child, 30);
    assert!(status.success(), "libqb client failed ({status}): {out}");
    assert!(
        out.contains("round trips ok") && out.contains("events ok") && out.contains("done"),
        "{out}"
    );
    assert!(
        h.conn_dirs().is_empty(),
        "files removed after the libqb client disconnected"
    );
}

/// Pattern the C programs use: byte j of message i is `(j * 31) ^ i`.
fn c_pattern(len: usize, id: i32) -> Vec<u8> {
    (0..len)
        .map(|j| ((j as u32).wrapping_mul(31) ^ id as u32) as u8)
        .collect()
}

#[test]
fn libqb_client_killed_is_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(bin) = compile(tmp.path(), "qbclient", C_CLIENT) else {
        return;
    };
    let h = Harness::start("libqbkill", |_| {});
    let mut child = Command::new(&bin)
        .arg(&h.service)
        .arg("-1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (conn, creds) = h.expect_connected();
    assert_eq!(creds.pid, child.id());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "connected");
    assert_eq!(h.conn_dirs().len(), 1);
    child.kill().unwrap(); // SIGKILL: no shutdown, no unmapping
    child.wait().unwrap();
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty(), "files removed after the client died");
}

#[test]
fn access_policy_refuses_then_admits_a_non_root_libqb_client() {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipping: needs root to run a client as another user");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(bin) = compile(tmp.path(), "qbclient", C_CLIENT) else {
        return;
    };
    let h = Harness::start("acl", |_| {});
    std::fs::set_permissions(h.shm.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = 65534;
    let run = || {
        Command::new(&bin)
            .arg(&h.service)
            .arg("3")
            .uid(nobody)
            .gid(nobody)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (status, out) = wait_output(run(), 20);
    assert_eq!(status.code(), Some(2), "refused: {out}");
    assert_eq!(out.trim(), format!("connect-failed {}", libc::EACCES));
    assert!(
        h.try_event(Duration::from_millis(200)).is_none(),
        "a refused client is never Connected"
    );
    assert!(h.conn_dirs().is_empty());

    h.set_access(AccessPolicy {
        uids: [nobody].into(),
        gids: Default::default(),
    });
    let child = run();
    // The files are chowned to the client, or it could not open them (mode 0600).
    let (conn, creds) = h.expect_connected();
    assert_eq!((creds.uid, creds.gid), (nobody, nobody));
    let dir = h.conn_dirs().pop().unwrap();
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&dir).unwrap();
    assert_eq!((md.uid(), md.gid()), (nobody, nobody));
    loop {
        match h.next_event(20) {
            ServerEvent::Request { id: 100, .. } => {
                for i in 0..3 {
                    h.send_event(conn, event(i, &c_pattern(10, i))).unwrap();
                }
            }
            ServerEvent::Request { .. } => {}
            ServerEvent::Disconnected { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let (status, out) = wait_output(child, 20);
    assert!(status.success(), "admitted client failed: {out}");
    assert!(out.contains("done"), "{out}");
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn libqb_dirs_of(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir("/dev/shm")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(&format!("qb-{pid}-")))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn our_client_against_a_libqb_server() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(bin) = compile(tmp.path(), "qbserver", C_SERVER) else {
        return;
    };
    let service = common::unique_service("libqbs");
    let mut child = KillOnDrop(Command::new(&bin).arg(&service).stdout(Stdio::piped()).spawn().unwrap());
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let server_pid = child.0.id();
    // A process that had this pid before and died without cleaning up may have left
    // directories named after it: only the ones made for this connection count.
    let stale = libqb_dirs_of(server_pid);
    let ours = || -> Vec<PathBuf> {
        libqb_dirs_of(server_pid)
            .into_iter()
            .filter(|d| !stale.contains(d))
            .collect()
    };

    let c = Client::connect(&service).unwrap();
    assert_eq!(c.server_credentials().unwrap().pid, server_pid);
    assert_eq!(c.max_msg_size(), 1 << 20);
    for (i, len) in [0usize, 1, 5, 4096, 300_000, (1 << 20) - 24, 17]
        .into_iter()
        .enumerate()
    {
        let req = request(i as i32, &pattern(len, i as u32));
        let resp = c.send_recv(&req).unwrap();
        // Compare fields: the C server leaves the header's alignment padding uninitialised.
        let hdr = ResponseHeader::decode(&resp).unwrap();
        assert_eq!(
            (hdr.id, hdr.size as usize, hdr.error),
            (i as i32, resp.len(), 1),
            "round trip {i}"
        );
        assert_eq!(&resp[24..], &req[16..], "round trip {i}");
    }
    let n = 40i32;
    c.send(&request(100, &n.to_ne_bytes())).unwrap();
    for i in 0..n {
        let ev = c
            .recv_event(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap_or_else(|| panic!("event {i}"));
        let hdr = ResponseHeader::decode(&ev).unwrap();
        assert_eq!((hdr.id, hdr.size as usize, hdr.error), (i, ev.len(), 1));
        assert_eq!(&ev[24..], &c_pattern((i as usize * 97) % 1000, i)[..]);
    }
    assert_eq!(c.recv_event(Some(Duration::from_millis(50))).unwrap(), None);
    assert_eq!(ours().len(), 1, "{:?}", ours());
    drop(c);
    // libqb removes a connection's files when the client has let go of them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ours().is_empty() {
        assert!(Instant::now() < deadline, "libqb server kept {:?}", ours());
        std::thread::sleep(Duration::from_millis(20));
    }
}
