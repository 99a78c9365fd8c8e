//! Running one agent process to completion, with a timeout, cancellation and bounded output.
//!
//! # Why a thread per operation
//!
//! Each operation runs on its own short-lived thread (see [`crate::Executor`]), and this module
//! blocks that thread, never the caller's. A thread per operation was chosen over a shared
//! SIGCHLD handler or pidfds because:
//! - it needs no signal handler and no `unsafe` (the workspace forbids it), and it does not steal
//!   children from other parts of the process the way a global `waitpid(-1)` reaper would;
//! - `std`'s `Child::wait` reaps exactly our child; a helper thread blocked in it turns the exit
//!   into a channel message, so the operation thread can wait for "exited, timed out or
//!   cancelled" with a single `recv_timeout` and without polling;
//! - the number of threads is bounded by the executor's operation limit, and agents are few
//!   and slow (Pacemaker's own default `node-action-limit` is twice the core count).
//!
//! The child runs in its own process group (as Pacemaker's executor does), so on timeout or
//! cancel the whole group gets SIGTERM and then, once the agent has exited or a grace period has
//! passed, SIGKILL — helpers that agents fork, even ones ignoring SIGTERM, are not left behind.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long the output readers may lag behind the exit of the process (a daemon the agent
/// started may keep the pipes open; then the output read so far is reported).
const READER_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for the exit after SIGKILL before giving up on the process.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// The program (an absolute path, or a name looked up in `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Bytes written to its stdin, which is then closed; `None`: stdin is `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Time allowed from spawn to exit.
    pub timeout: Duration,
    /// Time between SIGTERM and SIGKILL of the process group on timeout or cancel.
    pub kill_grace: Duration,
    /// At most this many bytes of stdout and of stderr are kept (the rest is read and dropped).
    pub output_limit: usize,
}

/// A message to the thread running a process.
#[derive(Debug)]
pub enum Control {
    /// Stop the operation: kill the process group (if one is running) and report cancellation.
    Cancel,
    /// Internal: the process of run number `.0` exited.
    Exited(u64, ExitStatus),
}

/// How the process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Termination {
    /// It exited with this code.
    Exited(i32),
    /// A signal (not ours) killed it.
    Signaled(i32),
    /// It ran out of time and was killed.
    TimedOut,
    /// It was cancelled (and killed if it was still running).
    Cancelled,
    /// It could not be started.
    SpawnFailed(std::io::ErrorKind, String),
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct ProcessOutcome {
    /// How it ended.
    pub termination: Termination,
    /// Captured stdout (at most `output_limit` bytes).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most `output_limit` bytes).
    pub stderr: Vec<u8>,
    /// Whether either stream was longer than `output_limit`.
    pub truncated: bool,
    /// Wall time from spawn to the end.
    pub duration: Duration,
}

/// The channel pair a running operation listens on; the sender is cloned for whoever may cancel.
#[derive(Debug)]
pub struct ControlChannel {
    tx: Sender<Control>,
    rx: Receiver<Control>,
    generation: u64,
}

impl Default for ControlChannel {
    fn default() -> Self {
        Self::new()
    }
}

impl ControlChannel {
    /// A new channel.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self { tx, rx, generation: 0 }
    }

    /// A sender through which [`Control::Cancel`] can be delivered.
    pub fn sender(&self) -> Sender<Control> {
        self.tx.clone()
    }

    /// Waits up to `timeout` for a cancel (stale exit notices are skipped). Returns true if
    /// cancelled.
    pub fn wait_cancel(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Control::Cancel) => return true,
                Ok(Control::Exited(..)) => continue,
                Err(RecvTimeoutError::Timeout) => return false,
                // We hold a sender ourselves, so this cannot happen; treat it as a cancel.
                Err(RecvTimeoutError::Disconnected) => return true,
            }
        }
    }

    /// Whether a cancel is already queued (non-blocking).
    pub fn cancelled(&self) -> bool {
        while let Ok(msg) = self.rx.try_recv() {
            if matches!(msg, Control::Cancel) {
                return true;
            }
        }
        false
    }
}

struct Capture {
    data: Vec<u8>,
    truncated: bool,
}

fn spawn_reader<R: Read + Send + 'static>(mut stream: R, limit: usize) -> Receiver<Capture> {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new().name("agent-output".into()).spawn(move || {
        let mut cap = Capture {
            data: Vec::new(),
            truncated: false,
        };
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = limit.saturating_sub(cap.data.len());
                    if n > room {
                        cap.truncated = true;
                    }
                    cap.data.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = tx.send(cap);
    });
    if let Err(e) = spawned {
        tracing::warn!("cannot start an output reader thread: {e}");
    }
    rx
}

fn signal_group(pid: u32, sig: Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        if let Err(e) = killpg(Pid::from_raw(raw), sig) {
            tracing::debug!(pid, ?sig, "killpg: {e}");
        }
    }
}

/// Runs `spec` to completion on the current thread. A [`Control::Cancel`] received on `control`
/// kills the process group and ends the run with [`Termination::Cancelled`].
pub fn run(spec: &ProcessSpec, control: &mut ControlChannel) -> ProcessOutcome {
    let started = Instant::now();
    control.generation += 1;
    let generation = control.generation;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return ProcessOutcome {
                termination: Termination::SpawnFailed(e.kind(), e.to_string()),
                stdout: Vec::new(),
                stderr: Vec::new(),
                truncated: false,
                duration: started.elapsed(),
            }
        }
    };
    let pid = child.id();
    if let (Some(mut stdin), Some(data)) = (child.stdin.take(), spec.stdin.clone()) {
        // A thread, so that an agent that does not read its stdin cannot block us.
        let _ = thread::Builder::new().name("agent-stdin".into()).spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }
    let out_rx = child.stdout.take().map(|s| spawn_reader(s, spec.output_limit));
    let err_rx = child.stderr.take().map(|s| spawn_reader(s, spec.output_limit));
    let exit_tx = control.sender();
    let waiter = thread::Builder::new().name("agent-wait".into()).spawn(move || {
        if let Ok(status) = child.wait() {
            let _ = exit_tx.send(Control::Exited(generation, status));
        }
    });
    if let Err(e) = waiter {
        // Without a waiter we cannot learn of the exit: kill the group and report it.
        tracing::error!("cannot start a waiter thread: {e}");
        signal_group(pid, Signal::SIGKILL);
        return ProcessOutcome {
            termination: Termination::SpawnFailed(e.kind(), e.to_string()),
            stdout: Vec::new(),
            stderr: Vec::new(),
            truncated: false,
            duration: started.elapsed(),
        };
    }

    let deadline = started + spec.timeout;
    // Phase 1: wait for exit, cancel or timeout.
    let mut ended: Option<Termination> = None;
    let mut exit: Option<ExitStatus> = None;
    while ended.is_none() && exit.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match control.rx.recv_timeout(left) {
            Ok(Control::Exited(g, status)) if g == generation => exit = Some(status),
            Ok(Control::Exited(..)) => {}
            Ok(Control::Cancel) => ended = Some(Termination::Cancelled),
            Err(RecvTimeoutError::Timeout) => ended = Some(Termination::TimedOut),
            Err(RecvTimeoutError::Disconnected) => ended = Some(Termination::Cancelled),
        }
    }
    // Phase 2: on timeout or cancel, SIGTERM then SIGKILL the group, and reap.
    if let Some(reason) = &ended {
        tracing::info!(pid, ?reason, program = %spec.program.display(), "killing agent");
        signal_group(pid, Signal::SIGTERM);
        let exited = wait_exit(&control.rx, generation, spec.kill_grace).is_some();
        // Even when the agent itself died of SIGTERM, members of its group may ignore it: the
        // group gets SIGKILL in any case. (Linux keeps a pid reserved while it names a process
        // group with members; an empty group makes the call fail with ESRCH, and the
        // milliseconds since the reap leave no room for the pid to wrap around.)
        signal_group(pid, Signal::SIGKILL);
        if !exited && wait_exit(&control.rx, generation, KILL_WAIT).is_none() {
            tracing::error!(pid, "agent did not die after SIGKILL");
        }
    }
    let duration = started.elapsed();
    let reader_deadline = Instant::now() + READER_GRACE;
    let collect = |rx: Option<Receiver<Capture>>| -> Capture {
        rx.and_then(|rx| {
            rx.recv_timeout(reader_deadline.saturating_duration_since(Instant::now()))
                .ok()
        })
        .unwrap_or(Capture {
            data: Vec::new(),
            truncated: false,
        })
    };
    let out = collect(out_rx);
    let err = collect(err_rx);
    let termination = match (ended, exit) {
        (Some(t), _) => t,
        (None, Some(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(sig)) => Termination::Signaled(sig),
            (None, None) => Termination::Signaled(0),
        },
        (None, None) => Termination::Cancelled,
    };
    ProcessOutcome {
        termination,
        stdout: out.data,
        stderr: err.data,
        truncated: out.truncated || err.truncated,
        duration,
    }
}

fn wait_exit(rx: &Receiver<Control>, generation: u64, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Control::Exited(g, status)) if g == generation => return Some(status),
            // A second cancel while killing changes nothing.
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> ProcessSpec {
        ProcessSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("FOO".into(), "bar".into())],
            stdin: None,
            timeout,
            kill_grace: Duration::from_millis(200),
            output_limit: 16,
        }
    }

    #[test]
    fn exit_code_env_and_bounded_output() {
        let mut ch = ControlChannel::new();
        let out = run(
            &sh(
                "echo $FOO; echo 0123456789abcdefXYZ >&2; exit 3",
                Duration::from_secs(5),
            ),
            &mut ch,
        );
        assert_eq!(out.termination, Termination::Exited(3));
        assert_eq!(out.stdout, b"bar\n");
        assert_eq!(out.stderr, b"0123456789abcdef");
        assert!(out.truncated);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        // The grandchild ignores SIGTERM, so only the SIGKILL of the group ends it.
        let script = format!(
            "sh -c 'trap \"\" TERM; echo $$ > {}; exec sleep 60' & sleep 60",
            pidfile.display()
        );
        let mut ch = ControlChannel::new();
        let t0 = Instant::now();
        let out = run(&sh(&script, Duration::from_millis(300)), &mut ch);
        assert_eq!(out.termination, Termination::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // Give init a moment to reap the orphan.
        let gone = (0..50).any(|_| {
            thread::sleep(Duration::from_millis(20));
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|s| s.contains(") Z "))
                    .unwrap_or(true)
        });
        assert!(
            gone,
            "grandchild {pid} survived the timeout: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
        );
    }

    #[test]
    fn cancel_and_spawn_failure() {
        let mut ch = ControlChannel::new();
        ch.sender().send(Control::Cancel).unwrap();
        let out = run(&sh("sleep 30", Duration::from_secs(30)), &mut ch);
        assert_eq!(out.termination, Termination::Cancelled);
        let mut spec = sh("", Duration::from_secs(1));
        spec.program = "/nonexistent/agent".into();
        let out = run(&spec, &mut ch);
        assert!(matches!(
            out.termination,
            Termination::SpawnFailed(std::io::ErrorKind::NotFound, _)
        ));
    }
}
