//! One-line descriptions of datagrams for the packet-level timeline (`-vv`).

use totem::wire::{self, Message};

/// Describes a Totem datagram: type and the fields that matter when reading a trace.
pub fn describe(bytes: &[u8]) -> String {
    let decoded = match wire::decode(bytes) {
        Ok(d) => d,
        Err(e) => return format!("undecodable {} bytes: {e}", bytes.len()),
    };
    match decoded.message {
        Message::OrfToken(t) => format!(
            "TOKEN ring {} token_seq {} seq {} aru {} aru_addr {} fcc {} backlog {} retrans_flg {} rtr {:?}",
            t.ring_id,
            t.token_seq,
            t.seq,
            t.aru,
            t.aru_addr,
            t.fcc,
            t.backlog,
            t.retrans_flg,
            t.rtr_list.iter().map(|r| r.seq).collect::<Vec<_>>()
        ),
        Message::Mcast(m) => format!(
            "MCAST ring {} seq {} from n{}{} {} bytes",
            m.ring_id,
            m.seq,
            m.system_from,
            if m.encapsulated { " (encapsulated)" } else { "" },
            m.payload.len()
        ),
        Message::MergeDetect(m) => format!("MERGE-DETECT ring {} from n{}", m.ring_id, m.system_from),
        Message::Join(j) => format!(
            "JOIN from n{} ring_seq {} proc {:?} failed {:?}{}",
            j.system_from,
            j.ring_seq,
            j.proc_list,
            j.failed_list,
            if j.sender == 0 { " (leave)" } else { "" }
        ),
        Message::CommitToken(c) => format!(
            "COMMIT-TOKEN ring {} token_seq {} memb_index {} addr {:?}",
            c.ring_id, c.token_seq, c.memb_index, c.addr
        ),
        Message::TokenHoldCancel(c) => format!("TOKEN-HOLD-CANCEL ring {}", c.ring_id),
    }
}
