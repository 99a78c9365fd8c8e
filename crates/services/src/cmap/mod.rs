//! The cmap service (service 0, corosync 3.1.7 `exec/cmap.c`): clients read, write,
//! iterate and track the configuration and runtime map ([`crate::Icmap`], shared by
//! all services through [`Ctx::icmap`]) or the statistics map ([`StatsMap`], owned
//! here); and the nodes agree on `totem.config_version` during sync.
//!
//! What the node must do besides the [`Service`] calls:
//! - after every step, drain the map's changes and pass them on:
//!   `let ch = ctx.icmap.take_changes(); cmap.notify_changes(&mut ctx, &ch);`. This sends
//!   NOTIFY_CALLBACK events to trackers (of both maps: stats changes are drained
//!   inside) and announces a changed `totem.config_version` to the cluster;
//! - keep the stats map fresh through [`Cmap::stats_mut`] and act on
//!   [`StatsMap::take_clears`].
//!
//! The map itself is built by [`config::load`]; `runtime.members.*` by
//! [`config::update_members`].

pub mod codec;
pub mod config;
pub mod exec;
pub mod stats;
pub mod track;

use std::collections::BTreeMap;

use totem::{NodeId, RingId};
use tracing::{debug, error, trace, warn};

use crate::icmap::{valid_key, Change, Icmap, Value};
use crate::ids::{ConnId, Credentials, ServiceId};
use crate::service::{Ctx, FlowControl, Service, SyncProgress};
use crate::{CsError, WireError};

use codec::{MapKind, Request, RequestId, TrackType, GET_RESPONSE, VALUE_MAX};
pub use stats::{IpcConnKey, IpcConnStats, StatsClear, StatsMap};
use track::Track;

/// The key the nodes agree on during sync.
pub const CONFIG_VERSION: &str = "totem.config_version";

/// An open iteration: the prefix and the last key returned. The next step returns the
/// first key after it, so keys added or deleted meanwhile are seen or skipped as the
/// live map says (libqb's trie iterators behave the same way).
#[derive(Debug, Clone)]
struct Iter {
    prefix: String,
    last: Option<String>,
    done: bool,
}

/// Per-connection state (`struct cmap_conn_info`).
#[derive(Debug, Default)]
struct Conn {
    map: MapKind,
    iters: BTreeMap<u64, Iter>,
    tracks: BTreeMap<u64, Track>,
}

/// cmap's part of sync (`cmap_sync_*`).
#[derive(Debug, Clone)]
struct SyncState {
    trans_entries: usize,
    my_version: u64,
    highest_received: u64,
    first_sync: bool,
}

#[derive(Debug)]
pub struct Cmap {
    conns: BTreeMap<ConnId, Conn>,
    stats: StatsMap,
    sync: SyncState,
    /// Handles are never reused on this node (corosync's hdb handles are not either).
    next_handle: u64,
}

impl Default for Cmap {
    fn default() -> Self {
        Cmap::new()
    }
}

fn map_version(m: &Icmap) -> u64 {
    match m.get(CONFIG_VERSION) {
        Some(Value::U64(v)) => *v,
        _ => 0,
    }
}

impl Cmap {
    pub fn new() -> Cmap {
        Cmap {
            conns: BTreeMap::new(),
            stats: StatsMap::new(),
            sync: SyncState {
                trans_entries: 0,
                my_version: 0,
                highest_received: 0,
                first_sync: true,
            },
            next_handle: 1,
        }
    }

    pub fn stats(&self) -> &StatsMap {
        &self.stats
    }

    /// The statistics map, for the node to fill.
    pub fn stats_mut(&mut self) -> &mut StatsMap {
        &mut self.stats
    }

    /// Sends the changes of the main map (drained by the node with
    /// `ctx.icmap.take_changes()`) and of the stats map to the trackers of every
    /// connection, and announces a changed `totem.config_version` to the cluster
    /// (`cmap_config_version_track_cb`). Call it after every step.
    pub fn notify_changes<'c>(&mut self, ctx: &mut Ctx<'_>, changes: impl IntoIterator<Item = &'c Change>) {
        let mut version_changed = false;
        for change in changes {
            version_changed |= change.key == CONFIG_VERSION;
            for (conn, c) in &self.conns {
                if c.map != MapKind::Icmap {
                    continue;
                }
                for t in Self::ordered(&c.tracks) {
                    if t.matches(change) {
                        ctx.out.event(*conn, t.event(change));
                    }
                }
            }
        }
        for change in self.stats.take_changes() {
            for (conn, c) in &self.conns {
                if c.map != MapKind::Stats {
                    continue;
                }
                for t in Self::ordered(&c.tracks) {
                    if let Some(ev) = t.stats_event(&change) {
                        ctx.out.event(*conn, ev);
                    }
                }
            }
        }
        if version_changed {
            self.sync.my_version = map_version(ctx.icmap);
            Self::mcast_config_version(ctx, exec::Reason::NewConfigVersion);
        }
    }

    /// libqb notifies the trackers of the longest key first (it walks the trie from the
    /// changed key up to the root), then in creation order.
    fn ordered(tracks: &BTreeMap<u64, Track>) -> Vec<&Track> {
        let mut v: Vec<&Track> = tracks.values().collect();
        v.sort_by_key(|t| std::cmp::Reverse(t.key.len()));
        v
    }

    fn mcast_config_version(ctx: &mut Ctx<'_>, reason: exec::Reason) {
        let msg = exec::Mcast {
            reason,
            items: vec![exec::Item {
                key: CONFIG_VERSION.into(),
                value: ctx.icmap.get(CONFIG_VERSION).cloned(),
            }],
        };
        ctx.out.mcast(msg.encode());
    }

    fn handle(&mut self) -> u64 {
        let h = self.next_handle;
        self.next_handle += 1;
        h
    }

    fn respond(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: RequestId, req: Request<'_>) -> Vec<u8> {
        let map = self.conns.entry(conn).or_default().map;
        match req {
            Request::Set {
                key,
                value_len,
                type_code,
                value,
            } => codec::plain(id, self.set(ctx, map, &key, value_len, type_code, value)),
            Request::Delete { key } => {
                let e = match map {
                    MapKind::Icmap if ctx.icmap.is_read_only(&key) => CsError::Access,
                    MapKind::Icmap => match ctx.icmap.delete(&key) {
                        Some(_) => CsError::Ok,
                        None => CsError::NotExist,
                    },
                    MapKind::Stats if StatsMap::is_read_only(&key) => CsError::Access,
                    MapKind::Stats => CsError::NotSupported,
                };
                codec::plain(id, e)
            }
            Request::Get { key, value_len } => {
                let v = match map {
                    MapKind::Icmap => ctx.icmap.get(&key),
                    MapKind::Stats => self.stats.get(&key),
                };
                Self::get(v, value_len)
            }
            Request::AdjustInt { key, step } => {
                let e = match map {
                    MapKind::Icmap if ctx.icmap.is_read_only(&key) => CsError::Access,
                    MapKind::Icmap => match ctx.icmap.get(&key).map(|v| v.adjust(step)) {
                        None => CsError::NotExist,
                        Some(None) => CsError::InvalidParam,
                        Some(Some(new)) => {
                            ctx.icmap.set(key, new);
                            CsError::Ok
                        }
                    },
                    MapKind::Stats if StatsMap::is_read_only(&key) => CsError::Access,
                    MapKind::Stats => CsError::NotSupported,
                };
                codec::plain(id, e)
            }
            Request::IterInit { prefix } => {
                let h = self.handle();
                let c = self.conns.entry(conn).or_default();
                c.iters.insert(
                    h,
                    Iter {
                        prefix,
                        last: None,
                        done: false,
                    },
                );
                codec::with_handle(id, CsError::Ok, h)
            }
            Request::IterNext { handle } => {
                let source = match map {
                    MapKind::Icmap => &*ctx.icmap,
                    MapKind::Stats => self.stats.map(),
                };
                let c = self.conns.entry(conn).or_default();
                let Some(it) = c.iters.get_mut(&handle) else {
                    return codec::iter_next(CsError::BadHandle, None);
                };
                let next = if it.done {
                    None
                } else {
                    source.next_after(&it.prefix, it.last.as_deref())
                };
                match next {
                    Some((k, v)) => {
                        it.last = Some(k.clone());
                        codec::iter_next(CsError::Ok, Some((k, v)))
                    }
                    None => {
                        it.done = true;
                        codec::iter_next(CsError::NoSections, None)
                    }
                }
            }
            Request::IterFinalize { handle } => {
                let c = self.conns.entry(conn).or_default();
                let e = match c.iters.remove(&handle) {
                    Some(_) => CsError::Ok,
                    None => CsError::BadHandle,
                };
                codec::plain(id, e)
            }
            Request::TrackAdd { key, track_type, inst } => {
                let e = if !track_type.valid() {
                    CsError::InvalidParam
                } else if map == MapKind::Stats
                    && track_type.has(TrackType::PREFIX)
                    && !(track_type.has(TrackType::ADD) && track_type.has(TrackType::DELETE))
                {
                    CsError::NotSupported
                } else {
                    CsError::Ok
                };
                if e != CsError::Ok {
                    return codec::with_handle(id, e, 0);
                }
                let h = self.handle();
                let c = self.conns.entry(conn).or_default();
                c.tracks.insert(h, Track { key, track_type, inst });
                codec::with_handle(id, CsError::Ok, h)
            }
            Request::TrackDelete { handle } => {
                let c = self.conns.entry(conn).or_default();
                match c.tracks.remove(&handle) {
                    Some(t) => codec::with_handle(id, CsError::Ok, t.inst),
                    None => codec::with_handle(id, CsError::BadHandle, 0),
                }
            }
            Request::SetCurrentMap { map } => {
                let c = self.conns.entry(conn).or_default();
                let e = if !c.iters.is_empty() || !c.tracks.is_empty() {
                    CsError::Busy
                } else {
                    match map {
                        0 => {
                            c.map = MapKind::Icmap;
                            CsError::Ok
                        }
                        1 => {
                            c.map = MapKind::Stats;
                            CsError::Ok
                        }
                        _ => CsError::NotExist,
                    }
                };
                codec::plain(id, e)
            }
        }
    }

    /// `message_handler_req_lib_cmap_get` with `icmap_get`: a probe (`value_len` 0) gets
    /// the length and type in 40 bytes; a read gets `40 + value_len` bytes (the client's
    /// buffer), or INVALID_PARAM when the buffer is too small. A buffer larger than any
    /// value gets only the bytes the value needs (still within the client's buffer).
    fn get(v: Option<&Value>, requested: u64) -> Vec<u8> {
        let Some(v) = v else {
            return codec::get(CsError::NotExist, None, GET_RESPONSE);
        };
        if requested == 0 {
            return codec::get(CsError::Ok, Some(v), GET_RESPONSE);
        }
        let len = v.wire_len() as u64;
        if requested < len {
            return codec::get(CsError::InvalidParam, None, GET_RESPONSE);
        }
        let padded = if requested <= VALUE_MAX { requested } else { len };
        codec::get(CsError::Ok, Some(v), GET_RESPONSE + padded as usize)
    }

    /// `icmap_set` on a client's behalf (after the read-only check), or a stats clear.
    fn set(&mut self, ctx: &mut Ctx<'_>, map: MapKind, key: &str, len: u64, code: u8, bytes: &[u8]) -> CsError {
        if map == MapKind::Stats {
            if StatsMap::is_read_only(key) {
                return CsError::Access;
            }
            return if self.stats.request_clear(key) {
                CsError::Ok
            } else {
                CsError::NotSupported
            };
        }
        if ctx.icmap.is_read_only(key) {
            return CsError::Access;
        }
        if len > VALUE_MAX {
            return CsError::InvalidParam;
        }
        let value = match code {
            // A string value may be shorter than the string (it is cut there), never
            // longer than the string and its NUL.
            11 => {
                let strlen = bytes.iter().position(|c| *c == 0).unwrap_or(bytes.len());
                if bytes.len() > strlen + 1 {
                    return CsError::InvalidParam;
                }
                Value::from_wire(11, &bytes[..strlen])
            }
            _ => Value::from_wire(code, bytes),
        };
        let Some(value) = value else {
            return CsError::InvalidParam;
        };
        if ctx.icmap.get(key) == Some(&value) {
            return CsError::Ok;
        }
        if ctx.icmap.get(key).is_none() && !valid_key(key) {
            return CsError::NameTooLong;
        }
        ctx.icmap.set(key, value);
        CsError::Ok
    }
}

impl Service for Cmap {
    fn id(&self) -> ServiceId {
        ServiceId::Cmap
    }

    fn icmap_changed(&mut self, ctx: &mut Ctx<'_>, changes: &[Change]) {
        self.notify_changes(ctx, changes);
    }

    fn name(&self) -> &'static str {
        "corosync configuration map access"
    }

    fn deliver(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        function: u16,
        msg: &[u8],
        swap: bool,
    ) -> Result<(), WireError> {
        if function != exec::MCAST {
            return Err(WireError::UnknownId(ServiceId::Cmap.exec_id(function)));
        }
        let m = exec::Mcast::decode(msg, swap)?;
        match m.reason {
            exec::Reason::Sync | exec::Reason::NewConfigVersion => {
                let version = match m.find(CONFIG_VERSION).and_then(|i| i.value.as_ref()) {
                    Some(Value::U64(v)) => *v,
                    _ => 0,
                };
                trace!(version, sender, "received config version");
                if sender != ctx.node_id && version > self.sync.highest_received {
                    self.sync.highest_received = version;
                }
                ctx.icmap
                    .set(format!("runtime.members.{sender}.config_version"), Value::U64(version));
            }
            exec::Reason::Other(r) => trace!(reason = r, "received cmap mcast with unknown reason"),
        }
        Ok(())
    }

    fn syncs(&self) -> bool {
        true
    }

    fn sync_init(&mut self, ctx: &mut Ctx<'_>, trans: &[NodeId], _members: &[NodeId], _ring: RingId) {
        self.sync.trans_entries = trans.len();
        self.sync.my_version = map_version(ctx.icmap);
        self.sync.highest_received = self.sync.my_version;
    }

    fn sync_process(&mut self, ctx: &mut Ctx<'_>) -> SyncProgress {
        Self::mcast_config_version(ctx, exec::Reason::Sync);
        SyncProgress::Done
    }

    fn sync_activate(&mut self, ctx: &mut Ctx<'_>) {
        if self.sync.trans_entries == 0 {
            debug!("Single node sync -> no action");
            return;
        }
        if !self.sync.first_sync {
            debug!("Not first sync -> no action");
            return;
        }
        self.sync.first_sync = false;
        if self.sync.my_version == 0 {
            debug!("My config version is 0 -> no action");
            return;
        }
        if self.sync.highest_received != self.sync.my_version {
            let reason = format!(
                "Received config version ({}) is different than my config version ({})! Exiting",
                self.sync.highest_received, self.sync.my_version
            );
            error!("{reason}");
            ctx.out.action(crate::HostAction::Shutdown { reason });
        }
    }

    fn connect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId, _creds: Credentials) -> Result<(), CsError> {
        self.conns.insert(conn, Conn::default());
        Ok(())
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]) {
        let Some(rid) = RequestId::from_raw(id) else {
            warn!(id, %conn, "unknown cmap request");
            ctx.out
                .respond(conn, codec::plain(RequestId::Set, CsError::InvalidParam));
            return;
        };
        let resp = match codec::decode(rid, msg) {
            Ok(req) => self.respond(ctx, conn, rid, req),
            Err(e) => {
                warn!(%conn, error = %e, "malformed cmap request {rid:?}");
                codec::plain(rid, e.cs_error())
            }
        };
        ctx.out.respond(conn, resp);
    }

    fn flow_control(&self, id: i32) -> Option<FlowControl> {
        RequestId::from_raw(id).map(|_| FlowControl::NotRequired)
    }

    fn disconnect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId) {
        self.conns.remove(&conn);
    }
}

#[cfg(test)]
mod tests;
