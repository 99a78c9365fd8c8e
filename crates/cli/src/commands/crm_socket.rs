//! The CRM daemon's control socket (`ferrosync-crmd --socket`, JSON lines; the
//! protocol is in crates/crm-daemon/src/control.rs): what `ferrosync crm …` talks
//! to when it is not given `--cib FILE`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use cib::document::CibDocument;
use crm::admin::CibOp;
use crm_daemon::control::ControlClient;
use serde_json::{json, Value};

/// Where `ferrosync-crmd` listens by default.
pub const DEFAULT_SOCKET: &str = "/run/ferrosync/crm.sock";

/// How long an answer may take (a CIB change waits for the ring).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct CrmSocket {
    path: PathBuf,
    client: ControlClient,
}

impl CrmSocket {
    pub fn connect(path: Option<&Path>) -> Result<CrmSocket> {
        let path = path.map_or_else(|| PathBuf::from(DEFAULT_SOCKET), Path::to_path_buf);
        let client = ControlClient::connect(&path, ANSWER_TIMEOUT).with_context(|| {
            format!(
                "cannot reach the CRM daemon at {} (is ferrosync-crmd running? --socket PATH, or --cib FILE to work on a file)",
                path.display()
            )
        })?;
        Ok(CrmSocket { path, client })
    }

    /// One request, its answer (an error when the daemon says `"ok": false`).
    pub fn request(&mut self, req: &Value) -> Result<Value> {
        let v = self
            .client
            .request(req)
            .with_context(|| format!("no answer from {}", self.path.display()))?;
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
