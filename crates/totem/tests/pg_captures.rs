//! totempg against real corosync 3.1.7 traffic (`shared/reference/totem-captures`):
//! every captured frame parses and reassembles, and our packer, fed the messages a
//! node sent, produces that node's frames byte for byte.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use totem::pg::{decode_groups, Assembler, Frame, Packer};

const RING_TSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/totem-captures/ring.tsv"
);

/// Size of the Totem mcast header in front of the totempg frame.
const MCAST_HEADER: usize = 45;
/// corosync 3.1.7's udpu frame size (netmtu 1500 − 2·45).
const FRAME_MTU: usize = 1410;
/// CPG exec message ids (service 2): MCAST and DOWNLIST.
const CPG_MCAST: u32 = 0x0002_0003;
const CPG_DOWNLIST: u32 = 0x0002_0005;

/// One captured totempg frame, deduplicated (udpu sends each mcast once per peer).
struct Captured {
    /// First column of `ring.tsv`.
    num: u32,
    sender: u32,
    frame: Bytes,
}

fn hex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair.len(), 2, "odd hex length");
            let digits = std::str::from_utf8(pair).expect("ascii hex");
            u8::from_str_radix(digits, 16).expect("hex digit")
        })
        .collect()
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn load() -> Option<Vec<Captured>> {
    let Ok(text) = std::fs::read_to_string(RING_TSV) else {
        eprintln!("skipping: {RING_TSV} not found");
        return None;
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 7, "line {line}");
        if cols[5] != "mcast" {
            continue;
        }
        let p = hex(cols[6]);
        assert_eq!(&p[..4], &[0x70, 0xc0, 3, 1], "mcast header of #{}", cols[0]);
        // Skip encapsulated (recovery) mcasts: their payload is another mcast.
        if p[4] != 2 {
            continue;
        }
        let sender = u32_at(&p, 5);
        assert_eq!(format!("n{sender}"), cols[2]);
        // Deduplicate by (sender, ring id, seq): the copy to the other peer, or a retransmission.
        if !seen.insert((sender, p[25..37].to_vec(), u32_at(&p, 17))) {
            continue;
        }
        let num = cols[0].parse().unwrap();
        out.push(Captured {
            num,
            sender,
            frame: Bytes::copy_from_slice(&p[MCAST_HEADER..]),
        });
    }
    Some(out)
}

/// A reassembled message with the frame number that completed it.
struct Delivered {
    num: u32,
    sender: u32,
    message: Bytes,
}

fn reassemble(frames: &[Captured]) -> Vec<Delivered> {
    let mut assembler = Assembler::new(1 << 20);
    let mut out = Vec::new();
    for c in frames {
        assembler
            .push_frame(c.sender, &c.frame, false, &mut |message| {
                out.push(Delivered {
                    num: c.num,
                    sender: c.sender,
                    message,
                })
            })
            .unwrap_or_else(|e| panic!("#{}: {e}", c.num));
    }
    assert_eq!(assembler.pending_senders(), 0, "a message was left unfinished");
    let stats = assembler.stats();
    assert_eq!((stats.malformed, stats.discontinuities, stats.oversized), (0, 0, 0));
    out
}

/// Exec message id (`qb_ipc_request_header.id`) of a group-"a" message.
fn exec_id(message: &[u8]) -> (Vec<&[u8]>, u32, usize) {
    let (groups, payload) = decode_groups(message).expect("group envelope");
    (groups, u32_at(payload, 0), payload.len())
}

#[test]
fn pg_captured_frames_parse_and_reassemble() {
    let Some(frames) = load() else { return };
    assert_eq!(frames.len(), 131, "deduplicated mcasts");
    for c in &frames {
        let f = Frame::decode(&c.frame, false).unwrap_or_else(|e| panic!("#{}: {e}", c.num));
        assert!(c.frame.len() <= FRAME_MTU);
        assert!(!f.messages.is_empty());
    }

    // #17: three messages packed in one frame, the last one for the sync group.
    let f17 = frames.iter().find(|c| c.num == 17).unwrap();
    let f = Frame::decode(&f17.frame, false).unwrap();
    assert_eq!((f.fragmented, f.continuation), (0, 0));
    assert_eq!(f.messages.iter().map(Bytes::len).collect::<Vec<_>>(), [37, 37, 40]);
    assert_eq!(decode_groups(&f.messages[2]).unwrap().0, [b"sync"]);
    // #5: one sync SERVICE_BUILD.
    let f5 = Frame::decode(&frames.iter().find(|c| c.num == 5).unwrap().frame, false).unwrap();
    assert_eq!(f5.messages.len(), 1);
    assert_eq!(f5.messages[0].len(), 560);
    assert_eq!(decode_groups(&f5.messages[0]).unwrap().0, [b"sync"]);

    let delivered = reassemble(&frames);
    for d in &delivered {
        decode_groups(&d.message).unwrap_or_else(|e| panic!("message completed by #{}: {e}", d.num));
    }

    // The 3000-byte CPG messages: 5 envelope + 184 CPG header + 3000 bytes, from n1.
    let big: Vec<&Delivered> = delivered.iter().filter(|d| d.message.len() > 2000).collect();
    let ends: Vec<(u32, u32, usize)> = big.iter().map(|d| (d.num, d.sender, d.message.len())).collect();
    assert_eq!(
        ends,
        [(2777, 1, 3189), (2886, 1, 3189), (2995, 1, 3189), (3104, 1, 3189)],
        "3000-byte CPG messages"
    );
    for d in &big {
        assert_eq!(exec_id(&d.message), (vec![&b"a"[..]], CPG_MCAST, 3184));
    }

    // Every DOWNLIST is 1573 bytes, and 1400 + 173 in two frames.
    let downlists: Vec<&Delivered> = delivered.iter().filter(|d| d.message.len() == 1573).collect();
    assert_eq!(downlists.len(), 12, "one per node per sync");
    assert!(downlists.iter().any(|d| d.num == 3649 && d.sender == 2));
    for d in &downlists {
        assert_eq!(exec_id(&d.message), (vec![&b"a"[..]], CPG_DOWNLIST, 1568));
    }
}

#[test]
fn pg_packer_reproduces_every_captured_frame() {
    let Some(frames) = load() else { return };
    let delivered = reassemble(&frames);
    let mut by_sender: BTreeMap<u32, (Vec<&Captured>, Vec<&Bytes>)> = BTreeMap::new();
    for c in &frames {
        by_sender.entry(c.sender).or_default().0.push(c);
    }
    for d in &delivered {
        by_sender.entry(d.sender).or_default().1.push(&d.message);
    }
    assert_eq!(by_sender.len(), 3);
    for (sender, (captured, messages)) in by_sender {
        let mut packer = Packer::new(FRAME_MTU);
        let mut produced: Vec<Bytes> = Vec::new();
        for m in messages {
            packer.push(m);
            produced.extend(std::iter::from_fn(|| packer.pop_frame()));
            // corosync sends the partial frame when the token arrives; the capture
            // tells when: the sender's next frame is exactly what a flush gives now.
            if packer.has_partial() {
                let mut probe = packer.clone();
                probe.flush();
                let flushed = probe.pop_frame().expect("flush of a partial frame");
                if captured.get(produced.len()).is_some_and(|c| c.frame == flushed) {
                    packer = probe;
                    produced.push(flushed);
                }
            }
        }
        assert!(!packer.has_partial(), "n{sender}: messages left unsent");
        assert_eq!(produced.len(), captured.len(), "n{sender}: frame count");
        for (ours, theirs) in produced.iter().zip(&captured) {
            assert_eq!(ours, &theirs.frame, "n{sender}: frame #{}", theirs.num);
        }
    }
}

#[test]
fn pg_cpg_iovecs_pack_like_corosync() {
    let Some(frames) = load() else { return };
    let delivered = reassemble(&frames);
    let cpg: Vec<&Bytes> = delivered
        .iter()
        .filter(|d| d.message.len() == 3189)
        .map(|d| &d.message)
        .collect();
    assert_eq!(cpg.len(), 4);
    let expected: Vec<&Bytes> = [2773, 2775, 2777, 2882, 2884, 2886, 2991, 2993, 2995, 3100, 3102, 3104]
        .iter()
        .map(|n| &frames.iter().find(|c| c.num == *n).unwrap().frame)
        .collect();
    // corosync's iovecs: group lengths, group name, CPG's exec header, the data.
    let mut vectored = Packer::new(FRAME_MTU);
    let mut whole = Packer::new(FRAME_MTU);
    for m in &cpg {
        vectored.push_vectored(&[&m[..4], &m[4..5], &m[5..189], &m[189..]]);
        whole.push(m);
    }
    for p in [&mut vectored, &mut whole] {
        assert!(!p.has_partial(), "the last piece of a large message leaves at once");
        let ours: Vec<Bytes> = std::iter::from_fn(|| p.pop_frame()).collect();
        assert_eq!(ours.iter().collect::<Vec<_>>(), expected);
    }
}
