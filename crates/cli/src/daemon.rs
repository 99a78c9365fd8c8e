//! Reaching the local daemon over IPC: options every IPC command takes.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

/// How to reach the daemon.
#[derive(Args, Debug, Clone)]
pub struct DaemonArgs {
    /// Seconds to wait for the daemon to answer; a stopped or frozen daemon fails the
    /// command after this long (exit status 3).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, global = true)]
    pub timeout: f64,
}

impl DaemonArgs {
    pub fn options(&self) -> Result<client::Options> {
        let d = Duration::try_from_secs_f64(self.timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("--timeout {}: not a positive number of seconds", self.timeout))?;
        Ok(client::Options::with_timeout(d))
    }
}

/// Connects `what` with a message that says which daemon was not reached.
pub fn open<T>(what: &str, f: impl FnOnce() -> client::Result<T>) -> Result<T> {
    f().with_context(|| format!("connect to the local daemon's {what} service (is ferrosyncd or corosync running?)"))
}

/// Prints a JSON value, pretty.
pub fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// cmap value as JSON (numbers as numbers, strings as strings, binary as hex).
pub fn value_json(v: &client::cmap::Value) -> serde_json::Value {
    use client::cmap::Value as V;
    match v {
        V::I8(x) => (*x).into(),
        V::U8(x) => (*x).into(),
        V::I16(x) => (*x).into(),
        V::U16(x) => (*x).into(),
        V::I32(x) => (*x).into(),
        V::U32(x) => (*x).into(),
        V::I64(x) => (*x).into(),
        V::U64(x) => (*x).into(),
        V::Float(x) => serde_json::Number::from_f64(f64::from(*x)).map_or(serde_json::Value::Null, Into::into),
        V::Double(x) => serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into),
        V::String(s) => s.clone().into(),
        V::Binary(b) => b.iter().map(|c| format!("{c:02x}")).collect::<String>().into(),
    }
}
