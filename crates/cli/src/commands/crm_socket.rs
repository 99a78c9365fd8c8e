//! The CRM daemon's control socket (`ferrosync-crmd --socket`, JSON lines; the
//! protocol is in crates/crm-daemon/src/control.rs): what `ferrosync crm …` talks
//! to when it is not given `--cib FILE`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cib::document::CibDocument;
use crm::admin::CibOp;
use serde_json::{json, Value};

/// Where `ferrosync-crmd` listens by default.
pub const DEFAULT_SOCKET: &str = "/run/ferrosync/crm.sock";

/// How long an answer may take (a CIB change waits for the ring).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct CrmSocket {
    path: PathBuf,
    reader: BufReader<UnixStream>,
}

impl CrmSocket {
    pub fn connect(path: Option<&Path>) -> Result<CrmSocket> {
        let path = path.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf);
        let stream = UnixStream::connect(&path).with_context(|| {
            format!(
                "cannot reach the CRM daemon at {} (is ferrosync-crmd running? --socket PATH, or --cib FILE to work on a file)",
                path.display()
            )
        })?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
        Ok(CrmSocket {
            path,
            reader: BufReader::new(stream),
        })
    }

    /// One request, its answer (an error when the daemon says `"ok": false`).
    pub fn request(&mut self, req: &Value) -> Result<Value> {
        let mut line = serde_json::to_string(req)?;
        line.push('\n');
        self.reader
            .get_mut()
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write to {}", self.path.display()))?;
        let mut answer = String::new();
        let n = self
            .reader
            .read_line(&mut answer)
            .with_context(|| format!("no answer from {}", self.path.display()))?;
        if n == 0 {
            bail!("{} closed the connection", self.path.display());
        }
        let v: Value = serde_json::from_str(&answer).context("the daemon's answer is not JSON")?;
        if v["ok"] != json!(true) {
            bail!("{}", v["error"].as_str().unwrap_or("the daemon refused the request"));
        }
        Ok(v)
    }

    /// The whole CIB as the local CRM process holds it.
    pub fn query(&mut self) -> Result<CibDocument> {
        let v = self.request(&json!({"request": "query"}))?;
        let xml = v["cib"].as_str().context("query answer without a CIB")?;
        CibDocument::parse(xml).context("the daemon's CIB does not parse")
    }

    /// The local process, the DC, members, quorum.
    pub fn status(&mut self) -> Result<Value> {
        self.request(&json!({"request": "status"}))
    }

    /// `ops` as one change, answered once applied.
    pub fn apply(&mut self, ops: &[CibOp]) -> Result<Value> {
        let ops: Vec<Value> = ops.iter().map(crm_daemon::ops_text::to_json).collect();
        self.request(&json!({"request": "cib", "ops": ops}))
    }

    /// Forget `rsc`'s history and fail counts (on `node`, or everywhere).
    pub fn cleanup(&mut self, rsc: &str, node: Option<&str>) -> Result<Value> {
        let mut req = json!({"request": "cleanup", "rsc": rsc});
        if let Some(n) = node {
            req["node"] = json!(n);
        }
        self.request(&req)
    }
}
