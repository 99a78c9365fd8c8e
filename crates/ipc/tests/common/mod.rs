//! Test harness: an `ipc::Server` on its own thread with a mio loop, like the daemon's.
//! Requests with id < 100 are echoed (24-byte response header with the request's id,
//! error 1, then the request body); ids >= 100 get no response (like cpg MCAST). Every
//! server event is forwarded to the test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipc::wire::{encode_request_header, ResponseHeader};
use ipc::{AccessPolicy, ConnId, IpcError, Server, ServerConfig, ServerEvent};

pub const NO_REPLY_ID: i32 = 100;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A service name unique to this process and call (abstract names are per network
/// namespace and tests run in parallel).
pub fn unique_service(tag: &str) -> String {
    format!(
        "ipct-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn shm_tempdir() -> tempfile::TempDir {
    let base = Path::new("/dev/shm");
    if base.is_dir() {
        tempfile::Builder::new().prefix("ipc-test-").tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// A closure run on the server thread; `false` stops the thread.
type Job = Box<dyn FnOnce(&mut Server) -> bool + Send>;

pub struct Harness {
    pub service: String,
    pub shm: tempfile::TempDir,
    jobs: Sender<Job>,
    events: Receiver<ServerEvent>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<()>>,
}

const WAKER: mio::Token = mio::Token(0);

impl Harness {
    pub fn start(tag: &str, tweak: impl FnOnce(&mut ServerConfig)) -> Harness {
        let service = unique_service(tag);
        let shm = shm_tempdir();
        let mut config = ServerConfig {
            services: vec![format!("{service}-other"), service.clone()],
            shm_dir: shm.path().to_path_buf(),
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (ev_tx, ev_rx) = channel();
        let (ready_tx, ready_rx) = channel();
        let thread = std::thread::spawn(move || {
            let mut poll = mio::Poll::new().unwrap();
            let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER).unwrap());
            let mut server = Server::bind(config).unwrap();
            server.register(poll.registry(), 1000).unwrap();
            ready_tx.send(waker).unwrap();
            run(&mut poll, &mut server, &jobs_rx, &ev_tx);
        });
        let waker = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server thread started");
        Harness {
            service,
            shm,
            jobs: jobs_tx,
            events: ev_rx,
            waker,
            thread: Some(thread),
        }
    }

    /// Runs `f` on the server thread and returns its result.
    pub fn with<R: Send + 'static>(&self, f: impl FnOnce(&mut Server) -> R + Send + 'static) -> R {
        let (tx, rx) = channel();
        self.jobs
            .send(Box::new(move |s: &mut Server| {
                let _ = tx.send(f(s));
                true
            }))
            .unwrap();
        self.waker.wake().unwrap();
        rx.recv_timeout(Duration::from_secs(10)).expect("server job ran")
    }

    pub fn send_event(&self, conn: ConnId, data: Vec<u8>) -> Result<(), IpcError> {
        self.with(move |s| s.send_event(conn, &data))
    }

    pub fn set_access(&self, p: AccessPolicy) {
        self.with(move |s| s.set_access(p))
    }

    /// Next server event, or panic after `secs` seconds.
    pub fn next_event(&self, secs: u64) -> ServerEvent {
        match self.events.recv_timeout(Duration::from_secs(secs)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => panic!("no server event within {secs} s"),
            Err(e) => panic!("server thread gone: {e}"),
        }
    }

    pub fn try_event(&self, wait: Duration) -> Option<ServerEvent> {
        self.events.recv_timeout(wait).ok()
    }

    pub fn expect_connected(&self) -> (ConnId, ipc::Credentials) {
        match self.next_event(10) {
            ServerEvent::Connected { conn, service, creds } => {
                assert_eq!(service, 1, "connected to the second listener");
                (conn, creds)
            }
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    pub fn expect_disconnected(&self, conn: ConnId) {
        loop {
            match self.next_event(10) {
                ServerEvent::Disconnected { conn: c } if c == conn => return,
                ServerEvent::Request { .. } => continue,
                other => panic!("expected Disconnected of {conn}, got {other:?}"),
            }
        }
    }

    /// The connection directories currently in the shm dir.
    pub fn conn_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.shm.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("qb-"))
            })
            .collect();
        v.sort();
        v
    }

    /// The one ring file of `kind` ("request-header", "event-data", …) of the only connection.
    pub fn ring_file(&self, kind: &str) -> PathBuf {
        let dirs = self.conn_dirs();
        assert_eq!(dirs.len(), 1, "exactly one connection directory");
        let (what, part) = kind.split_once('-').unwrap();
        dirs[0].join(format!("qb-{what}-{}-{part}", self.service))
    }
}

impl Harness {
    /// Stops the server thread (dropping the server).
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.jobs.send(Box::new(|_s: &mut Server| false));
            let _ = self.waker.wake();
            t.join().expect("server thread did not panic");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop();
        }
    }
}

fn run(poll: &mut mio::Poll, server: &mut Server, jobs: &Receiver<Job>, events: &Sender<ServerEvent>) {
    let mut mio_events = mio::Events::with_capacity(64);
    loop {
        let timeout = server
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        poll.poll(&mut mio_events, Some(timeout)).unwrap();
        let now = Instant::now();
        for ev in &mio_events {
            if server.owns(ev.token()) {
                server.handle_event(ev, now);
            }
        }
        server.handle_timeout(now);
        while let Ok(job) = jobs.try_recv() {
            if !job(server) {
                return;
            }
        }
        while let Some(ev) = server.poll_event() {
            if let ServerEvent::Request { conn, id, data } = &ev {
                if *id < NO_REPLY_ID {
                    let _ = server.respond(*conn, &echo(*id, data));
                }
            }
            if events.send(ev).is_err() {
                return;
            }
        }
    }
}

/// The harness's response to request `id` with message `data`.
pub fn echo(id: i32, data: &[u8]) -> Vec<u8> {
    let body = &data[16..];
    let mut r = ResponseHeader {
        id,
        size: (24 + body.len()) as i32,
        error: 1,
    }
    .encode()
    .to_vec();
    r.extend_from_slice(body);
    r
}

/// A request: 16-byte header + body.
pub fn request(id: i32, body: &[u8]) -> Vec<u8> {
    let mut r = encode_request_header(id, (16 + body.len()) as i32).to_vec();
    r.extend_from_slice(body);
    r
}

/// An event message: 24-byte header + body.
pub fn event(id: i32, body: &[u8]) -> Vec<u8> {
    let mut r = ResponseHeader {
        id,
        size: (24 + body.len()) as i32,
        error: 1,
    }
    .encode()
    .to_vec();
    r.extend_from_slice(body);
    r
}

pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len).map(|i| ((i as u32).wrapping_mul(31) ^ seed) as u8).collect()
}
