//! Going to the background without losing start-up errors. `ferrosyncd` without `-f`
//! starts itself again with `-f` in a new process group, stdio on /dev/null except a
//! pipe for one report line, and exits only once that child reports that it is running
//! (exit 0) or why it could not start (the message on stderr, exit 1) — so a start-up
//! error is as visible, and the exit status as telling, as in the foreground.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Set in the child's environment: report on stdout.
const REPORT_ENV: &str = "FERROSYNC_STARTUP_REPORT";

/// Where this process reports the outcome of its start-up, if anyone waits for it.
#[derive(Debug, Default)]
pub struct Startup {
    report: bool,
}

/// What the waiting parent makes of the child's report line.
pub fn verdict(report: &str) -> Result<(), String> {
    match report.trim_end() {
        "ok" => Ok(()),
        "" => Err("the daemon exited during start-up".into()),
        msg => Err(msg.to_owned()),
    }
}

impl Startup {
    /// In the foreground; or the background child, when started by [`Startup::daemonize`].
    pub fn from_env() -> Self {
        Startup {
            report: std::env::var_os(REPORT_ENV).is_some(),
        }
    }

    /// Starts `ferrosyncd -f` with our arguments in the background and exits with its
    /// start-up verdict; never returns unless the child cannot be started.
    pub fn daemonize() -> io::Result<std::convert::Infallible> {
        let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        args.push("-f".into());
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .env(REPORT_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        match verdict(&line) {
            Ok(()) => std::process::exit(0),
            Err(msg) => {
                eprintln!("ferrosyncd: error: {msg}");
                std::process::exit(1);
            }
        }
    }

    /// Start-up succeeded: the waiting parent exits 0.
    pub fn ready(&mut self) {
        self.send("ok");
    }

    /// Start-up failed with `message`: the waiting parent prints it and exits 1.
    pub fn failed(&mut self, message: &str) {
        self.send(&message.replace('\n', " "));
    }

    fn send(&mut self, line: &str) {
        if std::mem::take(&mut self.report) {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_exits_with_the_childs_report() {
        assert_eq!(verdict("ok\n"), Ok(()));
        assert_eq!(
            verdict("bind 10.0.0.1:5405: address not available\n"),
            Err("bind 10.0.0.1:5405: address not available".into())
        );
        assert!(verdict("").is_err(), "a child that died silently is a failure");
    }
}
