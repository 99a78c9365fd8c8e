//! The control socket: a Unix stream socket where a client sends one JSON request per
//! line and reads one JSON answer per line, in order.
//!
//! Requests (`"request"` names the kind):
//! - `{"request":"status"}`: this process, the DC, the members, quorum and the
//!   controller's state;
//! - `{"request":"query"}`: the whole CIB (`"cib"`: XML text);
//! - `{"request":"cib","ops":[…]}`: CIB operations (text form: [`crate::ops_text`])
//!   applied as one change; answered once the change was applied here (`"version"`);
//! - `{"request":"cleanup","rsc":"d","node":"node2"}`: forget a resource's history and
//!   fail counts (`node` optional: a name or a node id);
//! - `{"request":"attribute","node":"node2","name":"a","value":"1"}`: set a node
//!   attribute (`"value":null` deletes it; `"dampen"`: a dampening delay in ms, as
//!   `attrd_updater -d`);
//! - `{"request":"attributes","node":"node2","name":"a"}`: the node attributes as the
//!   attribute manager holds them (`"attributes"`: `node`, `id`, `name`, `value`), of
//!   one node and/or one name when given.
//!
//! Every answer has `"ok"`: `true`, or `false` with `"error"`. A request is at most
//! [`REQUEST_MAX`] bytes, at most [`CLIENTS_MAX`] clients are connected; a client that
//! breaks the rules gets an error answer (and, for an over-long line, is disconnected),
//! never the daemon.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crmd::cib_manager::CibOp;
use crmd::ids::{AttrName, AttrValue};
use crmd::messages::DAMPEN_MAX;
use serde_json::{json, Value};
use thiserror::Error;
use tracing::{debug, warn};

use crate::ops_text::{self, OpError};

/// Longest request line, in bytes.
pub const REQUEST_MAX: usize = 4 << 20;
/// Most clients connected at once.
pub const CLIENTS_MAX: usize = 32;
/// Most answer bytes waiting for a client that does not read.
pub const ANSWER_BACKLOG_MAX: usize = 64 << 20;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Query,
    Cib(CibOp),
    Cleanup {
        rsc: String,
        node: Option<String>,
    },
    Attribute {
        node: String,
        name: AttrName,
        value: Option<AttrValue>,
        dampen: Option<Duration>,
    },
    Attributes {
        node: Option<String>,
        name: Option<AttrName>,
    },
}

/// Why a request line was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("a request must be a JSON object")]
    NotObject,
    #[error("missing \"request\" (status, query, cib, cleanup, attribute, attributes)")]
    MissingKind,
    #[error("unknown request '{0}' (status, query, cib, cleanup, attribute, attributes)")]
    UnknownKind(String),
    #[error("{kind}: missing field \"{field}\"")]
    Missing { kind: &'static str, field: &'static str },
    #[error("{kind}: field \"{field}\" must be {want}")]
    Type {
        kind: &'static str,
        field: &'static str,
        want: &'static str,
    },
    #[error("{kind}: unexpected field \"{field}\"")]
    Unexpected { kind: &'static str, field: String },
    #[error("cib: {0}")]
    Op(#[from] OpError),
    #[error("{kind}: {why}")]
    Invalid { kind: &'static str, why: String },
}

fn check_only(kind: &'static str, obj: &serde_json::Map<String, Value>, allowed: &[&str]) -> Result<(), RequestError> {
    match obj.keys().find(|k| *k != "request" && !allowed.contains(&k.as_str())) {
        Some(k) => Err(RequestError::Unexpected { kind, field: k.clone() }),
        None => Ok(()),
    }
}

fn string(
    kind: &'static str,
    obj: &serde_json::Map<String, Value>,
    field: &'static str,
) -> Result<String, RequestError> {
    match obj.get(field) {
        None => Err(RequestError::Missing { kind, field }),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(RequestError::Type {
            kind,
            field,
            want: "a string",
        }),
    }
}

/// Parses one request line.
pub fn parse_request(line: &str) -> Result<Request, RequestError> {
    let v: Value = serde_json::from_str(line).map_err(|e| RequestError::Json(e.to_string()))?;
    let Value::Object(obj) = v else {
        return Err(RequestError::NotObject);
    };
    let kind = match obj.get("request") {
        None => return Err(RequestError::MissingKind),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(RequestError::Type {
                kind: "request",
                field: "request",
                want: "a string",
            })
        }
    };
    match kind.as_str() {
        "status" => {
            check_only("status", &obj, &[])?;
            Ok(Request::Status)
        }
        "query" => {
            check_only("query", &obj, &[])?;
            Ok(Request::Query)
        }
        "cib" => {
            check_only("cib", &obj, &["ops"])?;
            let ops = obj.get("ops").ok_or(RequestError::Missing {
                kind: "cib",
                field: "ops",
            })?;
            if !ops.is_array() {
                return Err(RequestError::Type {
                    kind: "cib",
                    field: "ops",
                    want: "a list of operations",
                });
            }
            Ok(Request::Cib(ops_text::parse_ops(ops)?))
        }
        "cleanup" => {
            check_only("cleanup", &obj, &["rsc", "node"])?;
            let rsc = string("cleanup", &obj, "rsc")?;
            if rsc.is_empty() {
                return Err(RequestError::Invalid {
                    kind: "cleanup",
                    why: "empty resource name".into(),
                });
            }
            let node = match obj.get("node") {
                None | Some(Value::Null) => None,
                Some(_) => Some(string("cleanup", &obj, "node")?),
            };
            Ok(Request::Cleanup { rsc, node })
        }
        "attribute" => {
            check_only("attribute", &obj, &["node", "name", "value", "dampen"])?;
            let node = string("attribute", &obj, "node")?;
            let name = AttrName::new(string("attribute", &obj, "name")?).map_err(|e| RequestError::Invalid {
                kind: "attribute",
                why: e.to_string(),
            })?;
            let value = match obj.get("value") {
                None => {
                    return Err(RequestError::Missing {
                        kind: "attribute",
                        field: "value",
                    })
                }
                Some(Value::Null) => None,
                Some(Value::String(s)) => Some(AttrValue::new(s.clone()).map_err(|e| RequestError::Invalid {
                    kind: "attribute",
                    why: e.to_string(),
                })?),
                Some(_) => {
                    return Err(RequestError::Type {
                        kind: "attribute",
                        field: "value",
                        want: "a string or null",
                    })
                }
            };
            let dampen = match obj.get("dampen") {
                None | Some(Value::Null) => None,
                Some(v) => match v.as_u64().map(Duration::from_millis) {
                    Some(d) if d <= DAMPEN_MAX => Some(d),
                    Some(_) => {
                        return Err(RequestError::Invalid {
                            kind: "attribute",
                            why: format!("dampen over {} s", DAMPEN_MAX.as_secs()),
                        })
                    }
                    None => {
                        return Err(RequestError::Type {
                            kind: "attribute",
                            field: "dampen",
                            want: "milliseconds (an integer)",
                        })
                    }
                },
            };
            Ok(Request::Attribute {
                node,
                name,
                value,
                dampen,
            })
        }
        "attributes" => {
            check_only("attributes", &obj, &["node", "name"])?;
            let node = match obj.get("node") {
                None | Some(Value::Null) => None,
                Some(_) => Some(string("attributes", &obj, "node")?),
            };
            let name = match obj.get("name") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    Some(
                        AttrName::new(string("attributes", &obj, "name")?).map_err(|e| RequestError::Invalid {
                            kind: "attributes",
                            why: e.to_string(),
                        })?,
                    )
                }
            };
            Ok(Request::Attributes { node, name })
        }
        other => Err(RequestError::UnknownKind(other.to_string())),
    }
}

/// An error answer.
pub fn error_answer(error: impl ToString) -> Value {
    json!({"ok": false, "error": error.to_string()})
}

/// A client's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// A request was handed to the host and is not answered yet.
    waiting: bool,
    /// The client closed its side (or broke the rules): close once answered.
    eof: bool,
}

/// The listening socket and its clients.
#[derive(Debug)]
pub struct ControlServer {
    path: PathBuf,
    listener: UnixListener,
    clients: BTreeMap<ClientId, Client>,
    next: u64,
}

/// What a client fd is polled for.
pub struct Interest<'a> {
    pub id: ClientId,
    pub fd: BorrowedFd<'a>,
    pub read: bool,
    pub write: bool,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket there; mode 0600, parent created 0700).
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                // Another daemon still listening there would answer a connect.
                if UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is served by another process", path.display()),
                    ));
                }
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ))
            }
            Err(_) => {}
        }
        // Created with the umask's mode, then restricted: nobody but root connects
        // in between, since the directory is 0700 or root's own.
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            listener,
            clients: BTreeMap::new(),
            next: 1,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn listener_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// The clients' fds and what to poll them for. A client with nothing to poll for
    /// (hung up, waiting for its answer) is left out: `poll` would report its hang-up
    /// again and again.
    pub fn interests(&self) -> Vec<Interest<'_>> {
        self.clients
            .iter()
            .map(|(id, c)| Interest {
                id: *id,
                fd: c.stream.as_fd(),
                read: !c.eof && c.inbuf.len() <= REQUEST_MAX,
                write: !c.outbuf.is_empty(),
            })
            .filter(|i| i.read || i.write)
            .collect()
    }

    /// Accepts waiting connections; those beyond [`CLIENTS_MAX`] get an error and are closed.
    pub fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= CLIENTS_MAX {
                        let mut line = error_answer(format!("too many clients ({CLIENTS_MAX})")).to_string();
                        line.push('\n');
                        let _ = stream.set_nonblocking(true);
                        let _ = (&stream).write(line.as_bytes());
                        continue;
                    }
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let id = ClientId(self.next);
                    self.next += 1;
                    debug!(client = id.0, "control client connected");
                    self.clients.insert(
                        id,
                        Client {
                            stream,
                            inbuf: Vec::new(),
                            outbuf: Vec::new(),
                            waiting: false,
                            eof: false,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!(error = %e, "control socket accept");
                    return;
                }
            }
        }
    }

    /// Reads what client `id` sent.
    pub fn read(&mut self, id: ClientId) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        let mut buf = [0u8; 64 * 1024];
        loop {
            if c.inbuf.len() > REQUEST_MAX {
                break;
            }
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.eof = true;
                    break;
                }
                Ok(n) => c.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    c.eof = true;
                    c.inbuf.clear();
                    break;
                }
            }
        }
        self.settle(id);
    }

    /// The next complete request of a client that is not waiting for an answer.
    pub fn next_request(&mut self) -> Option<(ClientId, Result<Request, RequestError>)> {
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for id in ids {
            let Some(c) = self.clients.get_mut(&id) else { continue };
            if c.waiting {
                continue;
            }
            let Some(end) = c.inbuf.iter().position(|&b| b == b'\n') else {
                if c.inbuf.len() > REQUEST_MAX {
                    // Too long: answer and hang up, since the rest of the line would
                    // be read as the next request.
                    c.inbuf.clear();
                    c.eof = true;
                    c.outbuf.extend_from_slice(
                        format!("{}\n", error_answer(format!("request longer than {REQUEST_MAX} bytes"))).as_bytes(),
                    );
                    self.flush(id);
                }
                continue;
            };
            let line: Vec<u8> = c.inbuf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            c.waiting = true;
            return Some((id, parse_request(text)));
        }
        None
    }

    /// Answers client `id`'s current request.
    pub fn answer(&mut self, id: ClientId, answer: &Value) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        c.waiting = false;
        c.outbuf.extend_from_slice(answer.to_string().as_bytes());
        c.outbuf.push(b'\n');
        if c.outbuf.len() > ANSWER_BACKLOG_MAX {
            warn!(client = id.0, "control client does not read its answers: disconnected");
            self.clients.remove(&id);
            return;
        }
        self.flush(id);
    }

    /// Writes what client `id` can take now.
    pub fn flush(&mut self, id: ClientId) {
        let Some(c) = self.clients.get_mut(&id) else { return };
        while !c.outbuf.is_empty() {
            match c.stream.write(&c.outbuf) {
                Ok(0) => break,
                Ok(n) => {
                    c.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.clients.remove(&id);
                    return;
                }
            }
        }
        self.settle(id);
    }

    /// Closes a client that hung up once nothing is left to do for it.
    fn settle(&mut self, id: ClientId) {
        let Some(c) = self.clients.get(&id) else { return };
        let more = c.inbuf.contains(&b'\n');
        if c.eof && !c.waiting && c.outbuf.is_empty() && !more {
            debug!(client = id.0, "control client gone");
            self.clients.remove(&id);
        }
    }

    /// Whether client `id` is still connected.
    pub fn connected(&self, id: ClientId) -> bool {
        self.clients.contains_key(&id)
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        parse_request(line).unwrap_err().to_string()
    }

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request(r#"{"request":"status"}"#), Ok(Request::Status));
        assert_eq!(parse_request(r#" {"request":"query"} "#), Ok(Request::Query));
        assert_eq!(
            parse_request(r#"{"request":"cleanup","rsc":"d"}"#),
            Ok(Request::Cleanup {
                rsc: "d".into(),
                node: None
            })
        );
        assert_eq!(
            parse_request(r#"{"request":"cleanup","rsc":"d","node":"node2"}"#),
            Ok(Request::Cleanup {
                rsc: "d".into(),
                node: Some("node2".into())
            })
        );
        assert_eq!(
            parse_request(r#"{"request":"attribute","node":"node1","name":"a","value":null}"#),
            Ok(Request::Attribute {
                node: "node1".into(),
                name: AttrName::new("a").unwrap(),
                value: None,
                dampen: None,
            })
        );
        assert_eq!(
            parse_request(r#"{"request":"attribute","node":"n","name":"a","value":"1","dampen":5000}"#),
            Ok(Request::Attribute {
                node: "n".into(),
                name: AttrName::new("a").unwrap(),
                value: Some(AttrValue::new("1").unwrap()),
                dampen: Some(Duration::from_secs(5)),
            })
        );
        assert_eq!(
            parse_request(r#"{"request":"attributes","name":"a"}"#),
            Ok(Request::Attributes {
                node: None,
                name: Some(AttrName::new("a").unwrap()),
            })
        );
        assert_eq!(
            parse_request(r#"{"request":"attributes"}"#),
            Ok(Request::Attributes { node: None, name: None })
        );
        assert!(matches!(
            parse_request(
                r#"{"request":"cib","ops":[{"op":"purge","path":"/cib/configuration/constraints/rsc_location[@id='x']"}]}"#
            ),
            Ok(Request::Cib(CibOp::Purge { .. }))
        ));
    }

    #[test]
    fn bad_requests_say_why() {
        assert!(err("").starts_with("not JSON"));
        assert!(err("{\"request\":").starts_with("not JSON"));
        assert_eq!(err("[1]"), "a request must be a JSON object");
        assert!(err("{}").starts_with("missing \"request\""));
        assert_eq!(err(r#"{"request":5}"#), "request: field \"request\" must be a string");
        assert!(err(r#"{"request":"reboot"}"#).starts_with("unknown request 'reboot'"));
        assert_eq!(err(r#"{"request":"status","x":1}"#), "status: unexpected field \"x\"");
        assert_eq!(err(r#"{"request":"cib"}"#), "cib: missing field \"ops\"");
        assert_eq!(
            err(r#"{"request":"cib","ops":{"op":"purge"}}"#),
            "cib: field \"ops\" must be a list of operations"
        );
        assert_eq!(err(r#"{"request":"cib","ops":[]}"#), "cib: no operations");
        assert_eq!(
            err(r#"{"request":"cib","ops":[{"op":"purge"}]}"#),
            "cib: operation 1 (purge): missing field \"path\""
        );
        assert_eq!(err(r#"{"request":"cleanup"}"#), "cleanup: missing field \"rsc\"");
        assert_eq!(err(r#"{"request":"cleanup","rsc":""}"#), "cleanup: empty resource name");
        assert_eq!(
            err(r#"{"request":"cleanup","rsc":"d","node":7}"#),
            "cleanup: field \"node\" must be a string"
        );
        assert_eq!(
            err(r#"{"request":"attribute","node":"n","name":"a"}"#),
            "attribute: missing field \"value\""
        );
        assert_eq!(
            err(r#"{"request":"attribute","node":"n","name":"a","value":3}"#),
            "attribute: field \"value\" must be a string or null"
        );
        assert!(err(r#"{"request":"attribute","node":"n","name":"","value":"1"}"#).starts_with("attribute: "));
        assert_eq!(
            err(r#"{"request":"attribute","node":"n","name":"a","value":"1","dampen":"5s"}"#),
            "attribute: field \"dampen\" must be milliseconds (an integer)"
        );
        assert!(
            err(r#"{"request":"attribute","node":"n","name":"a","value":"1","dampen":999999999999}"#)
                .starts_with("attribute: dampen over")
        );
        assert_eq!(
            err(r#"{"request":"attributes","node":3}"#),
            "attributes: field \"node\" must be a string"
        );
        assert_eq!(
            err(r#"{"request":"attributes","what":1}"#),
            "attributes: unexpected field \"what\""
        );
    }

    #[test]
    fn socket_round_trip_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/crm.sock");
        let mut server = ControlServer::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second server on the same path is refused while the first listens.
        assert!(ControlServer::bind(&path).is_err());

        let mut a = UnixStream::connect(&path).unwrap();
        a.write_all(b"{\"request\":\"status\"}\nnonsense\n").unwrap();
        server.accept();
        // The first connection is the second bind's probe.
        let id = server.interests().iter().map(|i| i.id).max().unwrap();
        // A client that hung up while waiting for its answer is not polled.
        let mut gone = UnixStream::connect(&path).unwrap();
        gone.write_all(b"{\"request\":\"query\"}\n").unwrap();
        drop(gone);
        server.accept();
        let gid = server.interests().iter().map(|i| i.id).max().unwrap();
        server.read(gid);
        let (got, _) = server.next_request().unwrap();
        assert_eq!(got, gid);
        assert!(server.connected(gid), "kept until answered");
        assert!(server.interests().iter().all(|i| i.id != gid), "not polled meanwhile");
        server.answer(gid, &json!({"ok": true}));
        assert!(!server.connected(gid), "closed once answered");
        server.read(id);
        let (got, req) = server.next_request().unwrap();
        assert_eq!((got, req), (id, Ok(Request::Status)));
        // One request at a time per client.
        assert!(server.next_request().is_none());
        server.answer(id, &json!({"ok": true}));
        let (_, req) = server.next_request().unwrap();
        assert!(matches!(req, Err(RequestError::Json(_))));
        server.answer(id, &error_answer("bad"));
        let mut buf = vec![0u8; 256];
        let n = a.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(text.starts_with("{\"ok\":true}\n"), "{text}");

        // An over-long line: an error answer, then the client is dropped.
        let mut b = UnixStream::connect(&path).unwrap();
        server.accept();
        let bid = server.interests().iter().map(|i| i.id).max().unwrap();
        let chunk = vec![b'x'; 1 << 20];
        std::thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..5 {
                    if b.write_all(&chunk).is_err() {
                        break;
                    }
                }
            });
            for _ in 0..200 {
                server.read(bid);
                let _ = server.next_request();
                if !server.connected(bid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        assert!(!server.connected(bid));

        // Clients beyond the limit are told and closed.
        let mut extra = Vec::new();
        for _ in 0..CLIENTS_MAX + 1 {
            extra.push(UnixStream::connect(&path).unwrap());
        }
        server.accept();
        assert_eq!(server.client_count(), CLIENTS_MAX);
        drop(server);
        assert!(!path.exists());
    }
}

/// Why a client's request got no answer.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot reach {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("the answer is not JSON: {0}")]
    Json(String),
}

/// The client side of the protocol: one connection, requests answered in order.
pub struct ControlClient {
    reader: io::BufReader<UnixStream>,
}

impl ControlClient {
    /// Connects to the socket at `path`; each answer may take up to `timeout`.
    pub fn connect(path: &Path, timeout: Duration) -> Result<ControlClient, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(ControlClient {
            reader: io::BufReader::new(stream),
        })
    }

    /// One request and its answer, as the daemon wrote it (`"ok"` not checked).
    pub fn request(&mut self, req: &Value) -> Result<Value, ClientError> {
        use std::io::BufRead;
        let mut line = req.to_string();
        line.push('\n');
        self.reader.get_mut().write_all(line.as_bytes())?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(ClientError::Closed);
        }
        serde_json::from_str(&answer).map_err(|e| ClientError::Json(format!("{e}: {answer:?}")))
    }
}
