//! The codec against real corosync 3.1.7 udpu traffic (`shared/reference/totem-captures/`):
//! every captured datagram must decode, carry the type the capture names, and re-encode
//! to the identical bytes; the facts listed in the captures' README must hold.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use totem::wire::{
    decode, decode_shared, encode, encoded_len, CommitToken, Join, MembEntry, Message, MessageType, RingId,
};

const RING_TSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/totem-captures/ring.tsv"
);

struct Packet {
    src: String,
    dst: String,
    bytes: Vec<u8>,
    message: Message,
}

fn hex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn type_name(t: MessageType) -> &'static str {
    match t {
        MessageType::OrfToken => "orf_token",
        MessageType::Mcast => "mcast",
        MessageType::MergeDetect => "memb_merge_detect",
        MessageType::Join => "memb_join",
        MessageType::CommitToken => "memb_commit_token",
        MessageType::TokenHoldCancel => "token_hold_cancel",
    }
}

/// Loads the capture, checking every packet on the way; `None` when it is not there.
fn load() -> Option<BTreeMap<u32, Packet>> {
    let text = match std::fs::read_to_string(RING_TSV) {
        Ok(t) => t,
        Err(e) => {
            println!("skipping capture test: cannot read {RING_TSV}: {e}");
            return None;
        }
    };
    let mut packets = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 7, "bad tsv line {line}");
        let num: u32 = cols[0].parse().unwrap();
        let bytes = hex(cols[6]);
        assert_eq!(bytes.len(), cols[4].parse::<usize>().unwrap(), "#{num} length");

        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("#{num} does not decode: {e}"));
        assert!(!decoded.foreign_endian, "#{num}: x86 capture is little-endian");
        assert_eq!(type_name(decoded.message.message_type()), cols[5], "#{num} type");
        assert_eq!(encoded_len(&decoded.message), bytes.len(), "#{num}");
        assert_eq!(encode(&decoded.message), bytes, "#{num} re-encodes differently");
        let shared = decode_shared(&Bytes::from(bytes.clone())).unwrap();
        assert_eq!(shared, decoded, "#{num} decode_shared differs");

        let old = packets.insert(
            num,
            Packet {
                src: cols[2].to_owned(),
                dst: cols[3].to_owned(),
                bytes,
                message: decoded.message,
            },
        );
        assert!(old.is_none(), "duplicate #{num}");
    }
    Some(packets)
}

fn rid(rep: u32, seq: u64) -> RingId {
    RingId { rep, seq }
}

fn join(p: &Packet) -> &Join {
    match &p.message {
        Message::Join(j) => j,
        m => panic!("not a join: {m:?}"),
    }
}

fn commit(p: &Packet) -> &CommitToken {
    match &p.message {
        Message::CommitToken(c) => c,
        m => panic!("not a commit token: {m:?}"),
    }
}

/// A totempg frame (§8): (fragmented, continuation, message lengths, data).
fn frame(p: &Packet) -> (u8, u8, Vec<usize>, &[u8]) {
    let Message::Mcast(m) = &p.message else {
        panic!("not an mcast: {:?}", p.message)
    };
    // The payload is everything after the 45-byte header, byte for byte.
    assert_eq!(&m.payload[..], &p.bytes[45..]);
    let f = &p.bytes[45..];
    assert_eq!(&f[..4], &[0, 0, 0, 0], "totempg version and type");
    let count = usize::from(u16::from_le_bytes([f[6], f[7]]));
    let lens: Vec<usize> = (0..count)
        .map(|i| usize::from(u16::from_le_bytes([f[8 + 2 * i], f[9 + 2 * i]])))
        .collect();
    let data = &f[8 + 2 * count..];
    assert_eq!(data.len(), lens.iter().sum::<usize>(), "frame size is exact");
    (f[4], f[5], lens, data)
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn every_captured_packet_round_trips() {
    let Some(packets) = load() else { return };
    assert_eq!(packets.len(), 4167);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in packets.values() {
        *counts.entry(type_name(p.message.message_type())).or_default() += 1;
    }
    let want = [
        ("orf_token", 3339),
        ("memb_join", 392),
        ("mcast", 262),
        ("memb_merge_detect", 98),
        ("token_hold_cancel", 56),
        ("memb_commit_token", 20),
    ];
    assert_eq!(counts, want.into_iter().collect());
}

#[test]
fn captured_joins() {
    let Some(packets) = load() else { return };
    let p1 = &packets[&1];
    assert_eq!((p1.src.as_str(), p1.dst.as_str(), p1.bytes.len()), ("n1", "n2", 37));
    assert_eq!(
        *join(p1),
        Join {
            sender: 1,
            target_nodeid: 0,
            system_from: 1,
            ring_seq: 1,
            proc_list: vec![1],
            failed_list: vec![],
        }
    );
    // Lists keep insertion order, not sorted.
    assert_eq!(join(&packets[&34]).proc_list, vec![3, 2, 1]);
    assert_eq!(join(&packets[&34]).target_nodeid, 0x6aab_653e);

    // n2's leave: header nodeid 0.
    let leave = join(&packets[&4014]);
    assert_eq!(leave.sender, 0);
    assert_eq!(leave.system_from, 2);
    assert_eq!(leave.ring_seq, 0x12);
    assert_eq!(leave.proc_list, vec![1, 3]);
    assert_eq!(leave.failed_list, vec![2]);
    // The leave goes to both peers and is the only join with header nodeid 0.
    let leaves: Vec<u32> = packets
        .iter()
        .filter(|(_, p)| matches!(&p.message, Message::Join(j) if j.sender == 0))
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(leaves, vec![4014, 4015]);
}

#[test]
fn captured_commit_tokens() {
    let Some(packets) = load() else { return };
    let numbers: Vec<u32> = packets
        .iter()
        .filter(|(_, p)| p.message.message_type() == MessageType::CommitToken)
        .map(|(n, _)| *n)
        .collect();
    let mut want: Vec<u32> = (39..=44).collect();
    want.extend(3620..=3623);
    want.extend(3780..=3785);
    want.extend(4020..=4023);
    assert_eq!(numbers, want);

    let entry = |rep, seq, aru| MembEntry {
        ring_id: rid(rep, seq),
        aru,
        high_delivered: aru,
        received_flg: 1,
    };
    let full = [entry(1, 5, 8), entry(2, 1, 0), entry(3, 5, 2)];
    for (i, n) in (39..=44).enumerate() {
        let c = commit(&packets[&n]);
        assert_eq!(c.ring_id, rid(1, 9), "#{n}");
        assert_eq!(c.addr, vec![1, 2, 3], "#{n}");
        assert_eq!(c.token_seq, i as u32 + 1, "#{n}");
        assert_eq!(c.memb_index, [1, 2, 3, 3, 3, 3][i], "#{n}");
        assert_eq!(c.target_nodeid, 0);
        assert_eq!(c.retrans_flg, 0);
        // Filled entries are the members' old rings; the rest are still zero.
        let filled = c.memb_index as usize;
        assert_eq!(&c.memb_list[..filled], &full[..filled], "#{n}");
        assert!(c.memb_list[filled..].iter().all(|e| *e == MembEntry::default()));
    }
    for (range, seq, members) in [
        (3620..=3623, 0xd, vec![1, 2]),
        (3780..=3785, 0x12, vec![1, 2, 3]),
        (4020..=4023, 0x16, vec![1, 3]),
    ] {
        for n in range {
            let c = commit(&packets[&n]);
            assert_eq!((c.ring_id, &c.addr), (rid(1, seq), &members), "#{n}");
        }
    }
}

#[test]
fn captured_tokens_and_small_messages() {
    let Some(packets) = load() else { return };
    let Message::OrfToken(t) = &packets[&45].message else {
        panic!("#45 is not a token")
    };
    assert_eq!(t.ring_id, rid(1, 9));
    assert_eq!((t.seq, t.token_seq, t.aru, t.aru_addr), (0, 0, 0xffff_ffff, 1));
    assert_eq!((t.backlog, t.fcc, t.retrans_flg), (0, 0, 0));
    assert_eq!((t.sender, t.target_nodeid), (1, 0x0200_0000));
    assert!(t.rtr_list.is_empty());
    // A retransmitted token is byte-identical to the original.
    assert_eq!(packets[&3255].bytes, packets[&3257].bytes);

    for (n, p) in &packets {
        match &p.message {
            Message::OrfToken(t) => {
                // Non-empty rtr_list is not exercised by this capture.
                assert!(t.rtr_list.is_empty(), "#{n}");
                if t.ring_id == rid(1, 9) {
                    assert_eq!(t.target_nodeid, 0x0200_0000, "#{n}");
                }
            }
            Message::MergeDetect(m) => {
                assert_eq!((m.sender, m.system_from), (1, 1), "#{n}");
                assert_eq!(m.target_nodeid, 0x3d49_0891, "#{n}");
            }
            Message::TokenHoldCancel(h) => {
                assert_eq!(h.target_nodeid, 0, "#{n}");
                assert_eq!(h.ring_id, rid(1, 9), "#{n}");
            }
            Message::Mcast(m) => {
                assert!(!m.encapsulated, "#{n}: no recovery re-send was captured");
                assert_eq!(p.bytes[4], 2, "#{n}");
                assert_eq!((m.node_id, m.target_nodeid), (0, 0), "#{n}");
                assert_eq!(m.sender, m.system_from, "#{n}");
            }
            Message::Join(_) | Message::CommitToken(_) => {}
        }
    }
}

#[test]
fn captured_mcast_payloads() {
    let Some(packets) = load() else { return };
    let mcast = |n: u32| match &packets[&n].message {
        Message::Mcast(m) => m.clone(),
        m => panic!("#{n} is not an mcast: {m:?}"),
    };

    // #5: one SERVICE_BUILD (qb_ipc_request_header: id @0, size @8) for ring 1.5, services [0, 2, 3, 5].
    let m5 = mcast(5);
    assert_eq!((m5.ring_id, m5.seq, m5.sender), (rid(1, 5), 2, 1));
    let (frag, cont, lens, data) = frame(&packets[&5]);
    assert_eq!((frag, cont, lens), (0, 0, vec![560]));
    assert_eq!(&data[..8], b"\x01\x00\x04\x00sync");
    let sb = &data[8..];
    assert_eq!(sb.len(), 552);
    assert_eq!((le32(sb, 0), le32(sb, 8)), (1, 552), "SERVICE_BUILD id and size");
    assert_eq!((le32(sb, 16), le64(sb, 20)), (1, 5), "ring 1.5");
    assert_eq!(le32(sb, 32), 4);
    let services: Vec<u32> = (0..4).map(|i| le32(sb, 40 + 4 * i)).collect();
    assert_eq!(services, vec![0, 2, 3, 5]);

    // #17: NODEINFO nodeid 1 flags 8, NODEINFO nodeid 0, sync BARRIER for ring 1.5.
    let (_, _, lens, data) = frame(&packets[&17]);
    assert_eq!(lens, vec![37, 37, 40]);
    let (a, rest) = data.split_at(37);
    let (b, c) = rest.split_at(37);
    for (msg, nodeid, flags) in [(a, 1, 8), (b, 0, 0)] {
        assert_eq!(&msg[..5], b"\x01\x00\x01\x00a");
        assert_eq!(le32(msg, 5), 0x0005_0000, "votequorum NODEINFO");
        assert_eq!((le32(msg, 5 + 16), le32(msg, 5 + 28)), (nodeid, flags));
    }
    assert_eq!(&c[..8], b"\x01\x00\x04\x00sync");
    assert_eq!((le32(c, 8), le32(c, 8 + 16), le64(c, 8 + 20)), (0, 1, 5));

    // 64-byte CPG messages: ring 1.9 seq 27..=47 in 308-byte datagrams.
    let m487 = mcast(487);
    assert_eq!((m487.ring_id, m487.seq), (rid(1, 9), 27));
    assert_eq!(packets[&487].bytes.len(), 308);
    let (_, _, lens, data) = frame(&packets[&487]);
    assert_eq!(lens.len(), 1);
    assert_eq!(&data[..5], b"\x01\x00\x01\x00a");
    let cpg = &data[5..];
    assert_eq!(le32(cpg, 0), 0x0002_0003, "CPG MCAST");
    assert_eq!(le32(cpg, 16), 3);
    assert_eq!(&cpg[24..27], b"cap");
    // cpgbench2 data after the 184-byte CPG header: u32 magic "CPGB", then u64 seq @8.
    assert_eq!(le32(cpg, 184), u32::from_be_bytes(*b"CPGB"));
    assert_eq!(le64(cpg, 192), 0);
    let m2547 = mcast(2547);
    assert_eq!((m2547.ring_id, m2547.seq), (rid(1, 9), 47));
    let (_, _, _, data) = frame(&packets[&2547]);
    assert_eq!(le32(data, 5 + 184), u32::from_be_bytes(*b"END!"));
    assert_eq!(le64(data, 5 + 192), 20);

    // A 3000-byte CPG message in three fragments, ring 1.9 seq 52..=54.
    for (n, seq, want) in [
        (2773, 52, (1, 0, 1400)),
        (2775, 53, (2, 1, 1400)),
        (2777, 54, (0, 2, 389)),
    ] {
        let m = mcast(n);
        assert_eq!((m.ring_id, m.seq, m.encapsulated), (rid(1, 9), seq, false));
        let (frag, cont, lens, _) = frame(&packets[&n]);
        assert_eq!((frag, cont, lens), (want.0, want.1, vec![want.2]), "#{n}");
        // Every mcast datagram is followed by its copy to the other peer.
        assert_eq!(packets[&(n + 1)].bytes, packets[&n].bytes);
    }
    assert_eq!(packets[&2773].bytes.len(), 1455);

    // DOWNLIST from n2 on ring 1.d in two fragments (1400 + 173): left_nodes 1, [3].
    let mut downlist = Vec::new();
    for (n, want) in [(3647, (1, 0)), (3649, (0, 1))] {
        let m = mcast(n);
        assert_eq!((m.ring_id, m.sender), (rid(1, 0xd), 2), "#{n}");
        let (frag, cont, _, data) = frame(&packets[&n]);
        assert_eq!((frag, cont), want, "#{n}");
        downlist.extend_from_slice(data);
    }
    assert_eq!(downlist.len(), 1573);
    let dl = &downlist[5..];
    assert_eq!(le32(dl, 0), 0x0002_0005, "CPG DOWNLIST");
    assert_eq!(le32(dl, 8), 1568);
    assert_eq!((le32(dl, 24), le32(dl, 32)), (1, 3));
}
