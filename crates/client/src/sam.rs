//! SAM, the simple availability manager (corosync's `sam.h`): a process registers, sends
//! health checks, and is restarted when it dies or misses a check.
//!
//! [`Sam::register`] splits the program in two: a **supervisor** that never returns from
//! it, and the **instance** it starts, for which `register` returns. Unlike corosync's
//! `fork()`, the instance is the same executable started again with the same arguments
//! (forking a multi-threaded Rust program is not sound), so code before `register` runs
//! in both: keep it to setting up SAM.
//!
//! ```no_run
//! use std::time::Duration;
//! use client::sam::{RecoveryPolicy, Sam};
//! # fn main() -> client::Result<()> {
//! let sam = Sam::initialize(Duration::from_secs(1), RecoveryPolicy::Restart)?;
//! let mut instance = sam.register()?; // the supervisor stays inside, restarting us
//! println!("instance {}; saved state {:?}", instance.instance_id(), instance.data_restore());
//! instance.start()?;
//! loop {
//!     // ... work ...
//!     instance.data_store(b"progress")?;
//!     instance.hc_send()?; // miss one for a whole interval and we are restarted
//!     # break;
//! }
//! instance.finalize()?; // a clean end: the supervisor exits 0
//! # Ok(()) }
//! ```
//!
//! Recovery: [`RecoveryPolicy::Quit`] ends the supervisor (exit status 1) at the first
//! failure; [`RecoveryPolicy::Restart`] starts a new instance (its `instance_id` one
//! higher, with the data last stored). The quorum policies also stop the instance when the
//! node loses quorum, and start one only while quorate. With `cmap` on, the supervisor
//! publishes its state under `resources.process.<supervisor pid>.` in cmap, as corosync
//! does.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::retry::retry_try_again;

/// The environment variable that tells a started instance where its supervisor listens.
pub const SOCKET_ENV: &str = "FERROSYNC_SAM_SOCKET";
/// The instance number given to a started instance.
pub const INSTANCE_ENV: &str = "FERROSYNC_SAM_INSTANCE";
/// Longest data kept by [`Instance::data_store`].
pub const DATA_MAX: usize = 1 << 20;
/// How long a started instance may take to reach [`Sam::register`].
const REGISTER_WAIT: Duration = Duration::from_secs(60);

/// What the supervisor does when the instance fails (`sam_recovery_policy_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryPolicy {
    /// End the supervisor.
    Quit,
    /// Start a new instance.
    Restart,
    /// Like `Quit`, and also fail the instance when quorum is lost.
    QuorumQuit,
    /// Like `Restart`, and run an instance only while quorate.
    QuorumRestart,
}

impl RecoveryPolicy {
    fn restarts(self) -> bool {
        matches!(self, RecoveryPolicy::Restart | RecoveryPolicy::QuorumRestart)
    }

    fn needs_quorum(self) -> bool {
        matches!(self, RecoveryPolicy::QuorumQuit | RecoveryPolicy::QuorumRestart)
    }
}

/// A SAM configuration, before [`Sam::register`] (`sam_initialize`).
#[derive(Debug, Clone)]
pub struct Sam {
    interval: Duration,
    policy: RecoveryPolicy,
    cmap: bool,
    warn_signal: Signal,
    options: crate::Options,
}

/// Commands an instance sends its supervisor: one byte, a u32 length, the data.
mod wire {
    pub const START: u8 = 1;
    pub const STOP: u8 = 2;
    pub const HC: u8 = 3;
    pub const DATA: u8 = 4;
    pub const WARN_SIGNAL: u8 = 5;
    pub const MARK_FAILED: u8 = 6;
    pub const FINALIZE: u8 = 7;
    pub const ACK: u8 = 0x80;
}

fn io_err(e: std::io::Error) -> Error {
    Error::Ipc {
        service: "sam",
        source: ipc::IpcError::Io(e),
    }
}

impl Sam {
    /// Health checks every `interval` (zero: none, only death is watched).
    pub fn initialize(interval: Duration, policy: RecoveryPolicy) -> Result<Sam> {
        Ok(Sam {
            interval,
            policy,
            cmap: false,
            warn_signal: Signal::SIGTERM,
            options: crate::Options::default(),
        })
    }

    /// Publish the supervisor's state in cmap (`SAM_RECOVERY_POLICY_CMAP`).
    pub fn with_cmap(mut self, on: bool) -> Sam {
        self.cmap = on;
        self
    }

    /// The signal sent before SIGKILL when a check is missed (`sam_warn_signal_set`).
    pub fn with_warn_signal(mut self, signal: Signal) -> Sam {
        self.warn_signal = signal;
        self
    }

    /// Options for the daemon connections of the quorum and cmap policies.
    pub fn with_options(mut self, options: crate::Options) -> Sam {
        self.options = options;
        self
    }

    /// In the supervisor: runs instances until the policy says stop, then exits the
    /// process (status 0 after a [`Instance::finalize`], 1 after a failure). In an
    /// instance: connects to the supervisor and returns.
    pub fn register(self) -> Result<Instance> {
        if let Some(path) = std::env::var_os(SOCKET_ENV) {
            return Instance::connect(PathBuf::from(path));
        }
        let code = Supervisor::new(self)?.run()?;
        std::process::exit(code)
    }
}

/// A registered instance: the process the supervisor watches.
#[derive(Debug)]
pub struct Instance {
    id: u32,
    stream: Arc<Mutex<UnixStream>>,
    data: Vec<u8>,
}

impl Instance {
    fn connect(path: PathBuf) -> Result<Instance> {
        let id = std::env::var(INSTANCE_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::InvalidArgument(format!("{INSTANCE_ENV} missing or not a number")))?;
        let mut stream = UnixStream::connect(&path).map_err(io_err)?;
        // The instance must not outlive its supervisor.
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| io_err(e.into()))?;
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).map_err(io_err)?;
        let len = u32::from_le_bytes(len) as usize;
        if len > DATA_MAX {
            return Err(Error::InvalidArgument(format!("stored data of {len} bytes")));
        }
        let mut data = vec![0u8; len];
        stream.read_exact(&mut data).map_err(io_err)?;
        Ok(Instance {
            id,
            stream: Arc::new(Mutex::new(stream)),
            data,
        })
    }

    /// 1 for the first instance, one more for each restart (`sam_register`'s
    /// `instance_id`).
    pub fn instance_id(&self) -> u32 {
        self.id
    }

    /// The data stored by this or an earlier instance (`sam_data_restore`).
    pub fn data_restore(&self) -> &[u8] {
        &self.data
    }

    fn command(&mut self, cmd: u8, data: &[u8]) -> Result<()> {
        send_command(&self.stream, cmd, data)
    }

    /// Starts health checking (`sam_start`).
    pub fn start(&mut self) -> Result<()> {
        self.command(wire::START, &[])
    }

    /// Stops health checking (`sam_stop`).
    pub fn stop(&mut self) -> Result<()> {
        self.command(wire::STOP, &[])
    }

    /// A health check (`sam_hc_send`).
    pub fn hc_send(&mut self) -> Result<()> {
        self.command(wire::HC, &[])
    }

    /// Keeps `data` in the supervisor for the next instance (`sam_data_store`).
    pub fn data_store(&mut self, data: &[u8]) -> Result<()> {
        if data.len() > DATA_MAX {
            return Err(Error::InvalidArgument(format!(
                "{} bytes of data (at most {DATA_MAX})",
                data.len()
            )));
        }
        self.command(wire::DATA, data)?;
        self.data = data.to_vec();
        Ok(())
    }

    /// Changes the signal sent before SIGKILL (`sam_warn_signal_set`).
    pub fn warn_signal_set(&mut self, signal: Signal) -> Result<()> {
        self.command(wire::WARN_SIGNAL, &(signal as i32).to_le_bytes())
    }

    /// Declares this instance failed: the supervisor kills it and applies the policy
    /// (`sam_mark_failed`).
    pub fn mark_failed(&mut self) -> Result<()> {
        self.command(wire::MARK_FAILED, &[])
    }

    /// Sends health checks from a thread whenever `healthy()` says so, every
    /// `period` (`sam_hc_callback_register`). The thread ends with the process or at the
    /// first failure to reach the supervisor.
    pub fn hc_callback_register(
        &mut self,
        period: Duration,
        mut healthy: impl FnMut() -> bool + Send + 'static,
    ) -> std::thread::JoinHandle<()> {
        let stream = Arc::clone(&self.stream);
        std::thread::spawn(move || loop {
            std::thread::sleep(period);
            if healthy() && send_command(&stream, wire::HC, &[]).is_err() {
                return;
            }
        })
    }

    /// Ends cleanly: the supervisor exits with status 0 when this process exits
    /// (`sam_finalize`).
    pub fn finalize(mut self) -> Result<()> {
        self.command(wire::FINALIZE, &[])
    }
}

fn send_command(stream: &Mutex<UnixStream>, cmd: u8, data: &[u8]) -> Result<()> {
    let mut s = crate::lock(stream);
    let mut msg = Vec::with_capacity(5 + data.len());
    msg.push(cmd);
    msg.extend_from_slice(&(data.len() as u32).to_le_bytes());
    msg.extend_from_slice(data);
    s.write_all(&msg).map_err(io_err)?;
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).map_err(io_err)?;
    if ack[0] != wire::ACK | cmd {
        return Err(Error::InvalidArgument(format!("supervisor answered {:#x}", ack[0])));
    }
    Ok(())
}

/// Why an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Finalized,
    Failed,
    QuorumLost,
}

/// The supervisor's side: starts instances, watches them, applies the policy.
struct Supervisor {
    sam: Sam,
    dir: PathBuf,
    listener: UnixListener,
    data: Vec<u8>,
    instance: u32,
    quorum: Option<crate::quorum::Quorum>,
    cmap: Option<crate::cmap::Cmap>,
}

/// How often set-up asks again while the daemon answers TRY_AGAIN (services
/// synchronising): a supervised program started with the cluster waits for it instead of
/// failing to start.
const SYNC_RETRY: Duration = Duration::from_millis(50);

impl Supervisor {
    fn new(sam: Sam) -> Result<Supervisor> {
        let dir = std::env::temp_dir().join(format!("ferrosync-sam-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(io_err)?;
        let listener = UnixListener::bind(dir.join("sock")).map_err(io_err)?;
        let deadline = Instant::now() + sam.options.timeout;
        let quorum = if sam.policy.needs_quorum() {
            Some(retry_try_again(deadline, SYNC_RETRY, || {
                let q = crate::quorum::Quorum::initialize_with(&sam.options)?;
                q.trackstart(crate::TrackFlags::CHANGES)?;
                Ok(q)
            })?)
        } else {
            None
        };
        let cmap = if sam.cmap {
            Some(retry_try_again(deadline, SYNC_RETRY, || {
                crate::cmap::Cmap::initialize_with(crate::cmap::Map::Icmap, &sam.options)
            })?)
        } else {
            None
        };
        let mut s = Supervisor {
            sam,
            dir,
            listener,
            data: Vec::new(),
            instance: 0,
            quorum,
            cmap,
        };
        retry_try_again(deadline, SYNC_RETRY, || s.publish_config())?;
        Ok(s)
    }

    fn key(&self, leaf: &str) -> String {
        format!("resources.process.{}.{leaf}", std::process::id())
    }

    fn publish_config(&mut self) -> Result<()> {
        let recovery = if self.sam.policy.restarts() { "restart" } else { "quit" };
        let (k1, k2) = (self.key("recovery"), self.key("poll_period"));
        let period = self.sam.interval.as_millis() as u64;
        if let Some(c) = &mut self.cmap {
            c.set(&k1, &crate::cmap::Value::String(recovery.into()))?;
            c.set(&k2, &crate::cmap::Value::U64(period))?;
        }
        Ok(())
    }

    fn publish_state(&mut self, state: &str) {
        let (k1, k2) = (self.key("state"), self.key("last_updated"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if let Some(c) = &mut self.cmap {
            if let Err(e) = c
                .set(&k1, &crate::cmap::Value::String(state.into()))
                .and_then(|()| c.set(&k2, &crate::cmap::Value::U64(now)))
            {
                tracing::warn!(error = %e, "SAM: cannot publish state in cmap");
            }
        }
    }

    fn quorate(&mut self) -> Result<bool> {
        match &mut self.quorum {
            Some(q) => q.getquorate(),
            None => Ok(true),
        }
    }

    /// Consumes quorum notifications; true if the partition is quorate now.
    fn poll_quorum(&mut self) -> Result<bool> {
        let Some(q) = &mut self.quorum else { return Ok(true) };
        let mut quorate = None;
        q.dispatch(crate::DispatchFlags::All, |ev| quorate = Some(ev.quorate))?;
        match quorate {
            Some(v) => Ok(v),
            None => q.getquorate(),
        }
    }

    fn run(mut self) -> Result<i32> {
        let code = loop {
            while !self.quorate()? {
                self.publish_state("waiting for quorum");
                std::thread::sleep(Duration::from_millis(200));
                self.poll_quorum()?;
            }
            self.instance += 1;
            let outcome = self.run_instance()?;
            match outcome {
                Outcome::Finalized => {
                    self.publish_state("stopped");
                    break 0;
                }
                Outcome::Failed | Outcome::QuorumLost => {
                    self.publish_state("failed");
                    if !self.sam.policy.restarts() {
                        break 1;
                    }
                    tracing::warn!(instance = self.instance, ?outcome, "SAM: restarting the instance");
                }
            }
        };
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(code)
    }

    fn spawn(&self) -> Result<Child> {
        let exe = std::env::current_exe().map_err(io_err)?;
        Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(SOCKET_ENV, self.dir.join("sock"))
            .env(INSTANCE_ENV, self.instance.to_string())
            .spawn()
            .map_err(io_err)
    }

    /// Starts one instance and watches it until it ends.
    fn run_instance(&mut self) -> Result<Outcome> {
        let mut child = self.spawn()?;
        let Some(mut stream) = self.accept(&mut child)? else {
            // It exited (or hung) before registering.
            reap(&mut child, self.sam.warn_signal, self.sam.interval);
            return Ok(Outcome::Failed);
        };
        let mut hello = (self.data.len() as u32).to_le_bytes().to_vec();
        hello.extend_from_slice(&self.data);
        if stream.write_all(&hello).is_err() {
            reap(&mut child, self.sam.warn_signal, self.sam.interval);
            return Ok(Outcome::Failed);
        }
        stream.set_nonblocking(true).map_err(io_err)?;
        self.publish_state("registered");
        let mut warn = self.sam.warn_signal;
        let mut deadline: Option<Instant> = None;
        let mut finalized = false;
        let mut inbox = Vec::new();
        loop {
            // Commands.
            let mut buf = [0u8; 4096];
            match stream.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => inbox.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {}
            }
            while let Some((cmd, data, used)) = parse_command(&inbox) {
                inbox.drain(..used);
                match cmd {
                    wire::START => {
                        deadline = (!self.sam.interval.is_zero()).then(|| Instant::now() + self.sam.interval);
                        self.publish_state("started");
                    }
                    wire::STOP => {
                        deadline = None;
                        self.publish_state("stopped");
                    }
                    wire::HC => {
                        if deadline.is_some() {
                            deadline = Some(Instant::now() + self.sam.interval);
                        }
                    }
                    wire::DATA => self.data = data,
                    wire::WARN_SIGNAL => {
                        let raw = data.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes);
                        if let Some(sig) = raw.and_then(|r| Signal::try_from(r).ok()) {
                            warn = sig;
                        }
                    }
                    wire::MARK_FAILED => {
                        let _ = stream.write_all(&[wire::ACK | cmd]);
                        reap(&mut child, Signal::SIGKILL, Duration::ZERO);
                        return Ok(Outcome::Failed);
                    }
                    wire::FINALIZE => finalized = true,
                    _ => {
                        // Not a SAM instance talking: treat as failed.
                        reap(&mut child, warn, self.sam.interval);
                        return Ok(Outcome::Failed);
                    }
                }
                // The ack may block briefly if the instance does not read: blocking write.
                stream.set_nonblocking(false).map_err(io_err)?;
                let _ = stream.write_all(&[wire::ACK | cmd]);
                stream.set_nonblocking(true).map_err(io_err)?;
            }
            if inbox.len() > DATA_MAX + 5 {
                reap(&mut child, warn, self.sam.interval);
                return Ok(Outcome::Failed);
            }
            // The instance ended?
            if let Some(status) = child.try_wait().map_err(io_err)? {
                tracing::info!(instance = self.instance, %status, finalized, "SAM: instance ended");
                return Ok(if finalized { Outcome::Finalized } else { Outcome::Failed });
            }
            // A missed health check?
            if deadline.is_some_and(|d| Instant::now() >= d) {
                tracing::warn!(instance = self.instance, "SAM: health check missed");
                reap(&mut child, warn, self.sam.interval);
                return Ok(Outcome::Failed);
            }
            // Quorum lost?
            if self.quorum.is_some() && !self.poll_quorum()? {
                tracing::warn!(instance = self.instance, "SAM: quorum lost");
                reap(&mut child, warn, self.sam.interval);
                return Ok(Outcome::QuorumLost);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the started instance to connect; `None` if it exits or takes too long.
    fn accept(&self, child: &mut Child) -> Result<Option<UnixStream>> {
        self.listener.set_nonblocking(true).map_err(io_err)?;
        let end = Instant::now() + REGISTER_WAIT;
        while Instant::now() < end {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).map_err(io_err)?;
                    return Ok(Some(s));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_err(e)),
            }
            if child.try_wait().map_err(io_err)?.is_some() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(None)
    }
}

/// One command from the front of `buf`: (command, data, bytes used).
fn parse_command(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let len = u32::from_le_bytes(buf.get(1..5)?.try_into().ok()?) as usize;
    let data = buf.get(5..5 + len)?;
    Some((buf[0], data.to_vec(), 5 + len))
}

/// Ends an instance: the warning signal, up to `grace` to exit, then SIGKILL; reaps it.
fn reap(child: &mut Child, warn: Signal, grace: Duration) {
    let pid = Pid::from_raw(child.id() as i32);
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = kill(pid, warn);
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_whole_or_not_at_all() {
        let mut b = vec![wire::DATA];
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(b"abcX");
        assert_eq!(parse_command(&b), Some((wire::DATA, b"abc".to_vec(), 8)));
        assert_eq!(parse_command(&b[..6]), None);
        assert_eq!(parse_command(&[]), None);
    }

    #[test]
    fn policies_say_whether_they_restart_and_need_quorum() {
        assert!(RecoveryPolicy::Restart.restarts() && !RecoveryPolicy::Restart.needs_quorum());
        assert!(!RecoveryPolicy::QuorumQuit.restarts() && RecoveryPolicy::QuorumQuit.needs_quorum());
        assert!(!RecoveryPolicy::Quit.restarts());
    }
}
