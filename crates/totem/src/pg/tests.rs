use bytes::Bytes;
use proptest::prelude::*;

use super::*;

/// corosync 3.1.7's stock udpu frame size.
const MTU: usize = 1410;

/// A message that does not start with a group envelope (ngroups 0xffff), so `push`
/// treats it as one iovec.
fn raw(len: usize, seed: u8) -> Vec<u8> {
    let mut m: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    if len >= 2 {
        m[0] = 0xff;
        m[1] = 0xff;
    }
    m
}

fn drain(p: &mut Packer) -> Vec<Bytes> {
    std::iter::from_fn(|| p.pop_frame()).collect()
}

/// (fragmented, continuation, msg_len[]) of each frame.
fn shape(frames: &[Bytes]) -> Vec<(u8, u8, Vec<usize>)> {
    frames
        .iter()
        .map(|f| {
            let d = Frame::decode(f, false).expect("packer output parses");
            (
                d.fragmented,
                d.continuation,
                d.messages.iter().map(Bytes::len).collect(),
            )
        })
        .collect()
}

fn reassemble(assembler: &mut Assembler, sender: u32, frames: &[Bytes]) -> Vec<Bytes> {
    let mut out = Vec::new();
    for f in frames {
        assembler
            .push_frame(sender, f, false, &mut |m| out.push(m))
            .expect("frame accepted");
    }
    out
}

fn frame(fragmented: u8, continuation: u8, messages: &[&[u8]]) -> Bytes {
    Frame {
        fragmented,
        continuation,
        messages: messages.iter().map(|m| Bytes::copy_from_slice(m)).collect(),
    }
    .encode()
    .unwrap()
}

/// The same frame as a big-endian sender would send it.
fn to_foreign(f: &Bytes) -> Bytes {
    let mut v = f.to_vec();
    let count = usize::from(u16::from_le_bytes([v[6], v[7]]));
    for i in 0..=count {
        v.swap(6 + 2 * i, 7 + 2 * i);
    }
    Bytes::from(v)
}

#[test]
fn packs_small_messages_into_one_frame() {
    let mut p = Packer::new(MTU);
    let msgs = [raw(37, 1), raw(37, 2), raw(40, 3)];
    for m in &msgs {
        p.push(m);
    }
    assert!(p.has_partial());
    assert_eq!(p.pop_frame(), None, "nothing is complete before the flush");
    p.flush();
    assert!(!p.has_partial());
    let frames = drain(&mut p);
    assert_eq!(frames.len(), 1);
    let mut expected = vec![0, 0, 0, 0, 0, 0, 3, 0, 37, 0, 37, 0, 40, 0];
    for m in &msgs {
        expected.extend_from_slice(m);
    }
    assert_eq!(&frames[0][..], &expected[..]);
    let mut a = Assembler::new(1 << 20);
    let out = reassemble(&mut a, 1, &frames);
    assert_eq!(out, msgs.iter().map(|m| Bytes::copy_from_slice(m)).collect::<Vec<_>>());
    // A flush with nothing buffered sends nothing.
    p.flush();
    assert_eq!(p.pop_frame(), None);
}

#[test]
fn fragmentation_around_frame_boundaries() {
    // Fresh packer, frame_mtu 1410: 1402 bytes for msg_len[] + data, 1400 of data for
    // one entry. A message is buffered only if it leaves more than 2 bytes spare
    // (len + 2 < 1400); otherwise what fits is sent at once, and the tail of a message
    // that did not fit is sent alone at once as well.
    type Shape = Vec<(u8, u8, Vec<usize>)>;
    let cases: Vec<(usize, Shape, Shape)> = vec![
        (1, vec![], vec![(0, 0, vec![1])]),
        (1397, vec![], vec![(0, 0, vec![1397])]),
        (1398, vec![(0, 0, vec![1398])], vec![]),
        (1399, vec![(0, 0, vec![1399])], vec![]),
        (1400, vec![(0, 0, vec![1400])], vec![]),
        (1401, vec![(1, 0, vec![1400]), (0, 1, vec![1])], vec![]),
        (2800, vec![(1, 0, vec![1400]), (0, 1, vec![1400])], vec![]),
        (
            2801,
            vec![(1, 0, vec![1400]), (2, 1, vec![1400]), (0, 2, vec![1])],
            vec![],
        ),
        (
            3189,
            vec![(1, 0, vec![1400]), (2, 1, vec![1400]), (0, 2, vec![389])],
            vec![],
        ),
    ];
    for (len, pushed, flushed) in cases {
        let mut p = Packer::new(MTU);
        let m = raw(len, 7);
        p.push(&m);
        let mut frames = drain(&mut p);
        assert_eq!(shape(&frames), pushed, "push of {len} bytes");
        assert!(frames.len() <= p.frames_needed(len));
        p.flush();
        let tail = drain(&mut p);
        assert_eq!(shape(&tail), flushed, "flush after {len} bytes");
        frames.extend(tail);
        assert!(frames.iter().all(|f| f.len() <= MTU));
        let out = reassemble(&mut Assembler::new(1 << 20), 9, &frames);
        assert_eq!(out, vec![Bytes::from(m)]);
    }
}

#[test]
fn large_message_fills_the_partial_frame_first() {
    let mut p = Packer::new(MTU);
    p.push(&raw(100, 1));
    // Two entries now: 1398 bytes of data room, 1298 left for the new message.
    p.push(&raw(1400, 2));
    assert_eq!(shape(&drain(&mut p)), vec![(1, 0, vec![100, 1298]), (0, 1, vec![102])]);
    assert!(!p.has_partial());
}

#[test]
fn small_tail_waits_and_carries_the_continuation() {
    let mut p = Packer::new(MTU);
    p.push(&raw(1000, 1));
    // 500 does not fit after 1000: 398 fill the frame, the 102-byte tail fits whole
    // (judged on the part's full 500 bytes) and waits for more.
    p.push(&raw(500, 2));
    assert_eq!(shape(&drain(&mut p)), vec![(1, 0, vec![1000, 398])]);
    p.push(&raw(10, 3));
    p.flush();
    assert_eq!(shape(&drain(&mut p)), vec![(0, 1, vec![102, 10])]);
    // The continuation is consumed by the flush.
    p.push(&raw(10, 4));
    p.flush();
    assert_eq!(shape(&drain(&mut p)), vec![(0, 0, vec![10])]);
}

#[test]
fn fragment_counter_restarts_only_when_a_part_fits_whole() {
    // Single-iovec messages: corosync's counter keeps running across messages.
    let mut p = Packer::new(MTU);
    p.push(&raw(3189, 1));
    p.push(&raw(3189, 2));
    let s = shape(&drain(&mut p));
    assert_eq!(s[3..], [(3, 0, vec![1400]), (4, 3, vec![1400]), (0, 4, vec![389])]);
    // Enveloped messages: the length array fits whole and restarts it, as captured.
    let mut p = Packer::new(MTU);
    let m = encode_groups(&[b"a"], &raw(3184, 1));
    p.push(&m);
    p.push(&m);
    let s = shape(&drain(&mut p));
    assert_eq!(s[3..], [(1, 0, vec![1400]), (2, 1, vec![1400]), (0, 2, vec![389])]);
}

#[test]
fn part_ending_at_frame_end_closes_the_frame() {
    let mut p = Packer::new(MTU);
    let (a, b) = (raw(1399, 1), raw(10, 2));
    p.push_vectored(&[&a, &b]);
    assert_eq!(shape(&drain(&mut p)), vec![(1, 0, vec![1399])]);
    p.flush();
    let tail = drain(&mut p);
    assert_eq!(shape(&tail), vec![(0, 1, vec![10])]);
    // Empty parts are ignored, as corosync drops zero-length iovecs.
    let mut q = Packer::new(MTU);
    q.push_vectored(&[&[], &a, &[], &b, &[]]);
    q.flush();
    let mut frames = vec![frame(1, 0, &[&a]), frame(0, 1, &[&b])];
    assert_eq!(drain(&mut q), frames);
    frames.truncate(1);
    frames.extend(tail);
    let whole: Vec<u8> = [a, b].concat();
    assert_eq!(
        reassemble(&mut Assembler::new(1 << 20), 1, &frames),
        vec![Bytes::from(whole)]
    );
}

#[test]
fn empty_message_gets_an_entry() {
    let mut p = Packer::new(MTU);
    p.push(&[]);
    p.push_vectored(&[&[], &[]]);
    p.flush();
    let frames = drain(&mut p);
    assert_eq!(shape(&frames), vec![(0, 0, vec![0, 0])]);
    assert_eq!(
        reassemble(&mut Assembler::new(10), 1, &frames),
        vec![Bytes::new(), Bytes::new()]
    );
}

#[test]
fn one_mebibyte_message() {
    let len: usize = 1 << 20;
    let m: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut p = Packer::new(MTU);
    p.push(&m);
    let frames = drain(&mut p);
    assert!(!p.has_partial());
    assert_eq!(frames.len(), len.div_ceil(1400));
    assert!(frames.len() <= p.frames_needed(len));
    assert!(frames.iter().all(|f| f.len() <= MTU));
    // 749 frames: the fragment number wraps from 255 to 1, never 0.
    let s = shape(&frames);
    for (i, (frag, cont, _)) in s.iter().enumerate() {
        let expected = if i + 1 == s.len() { 0 } else { (i % 255 + 1) as u8 };
        assert_eq!(*frag, expected, "frame {i}");
        assert_eq!(*cont, if i == 0 { 0 } else { s[i - 1].0 });
    }
    let mut a = Assembler::new(len);
    assert_eq!(reassemble(&mut a, 1, &frames), vec![Bytes::from(m)]);
    assert_eq!(a.pending_senders(), 0);
}

#[test]
fn whole_messages_are_zero_copy() {
    let f = frame(0, 0, &[b"abc", b"de"]);
    let mut out = Vec::new();
    Assembler::default()
        .push_frame(1, &f, false, &mut |m| out.push(m))
        .unwrap();
    assert_eq!(out, [Bytes::from_static(b"abc"), Bytes::from_static(b"de")]);
    let base = f.as_ptr() as usize;
    assert_eq!(out[0].as_ptr() as usize, base + 12);
    assert_eq!(out[1].as_ptr() as usize, base + 15);
}

#[test]
fn interleaved_senders_reassemble_independently() {
    let mut p1 = Packer::new(MTU);
    let mut p2 = Packer::new(MTU);
    let m1 = [raw(3000, 1), raw(20, 2), raw(5000, 3)];
    let m2 = [raw(10, 4), raw(2900, 5), raw(1401, 6)];
    let mut f1 = Vec::new();
    let mut f2 = Vec::new();
    for (a, b) in m1.iter().zip(&m2) {
        p1.push(a);
        p2.push(b);
        f1.extend(drain(&mut p1));
        f2.extend(drain(&mut p2));
    }
    p1.flush();
    p2.flush();
    f1.extend(drain(&mut p1));
    f2.extend(drain(&mut p2));
    let mut a = Assembler::new(1 << 20);
    let mut got: Vec<(u32, Bytes)> = Vec::new();
    let (mut i1, mut i2) = (f1.iter(), f2.iter());
    loop {
        let (x, y) = (i1.next(), i2.next());
        if x.is_none() && y.is_none() {
            break;
        }
        for (sender, f) in [(1, x), (2, y)] {
            if let Some(f) = f {
                a.push_frame(sender, f, false, &mut |m| got.push((sender, m))).unwrap();
            }
        }
    }
    let of = |s: u32| {
        got.iter()
            .filter(|(x, _)| *x == s)
            .map(|(_, m)| m.to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(1), m1);
    assert_eq!(of(2), m2);
    assert_eq!(a.pending_senders(), 0);
    assert_eq!(a.stats(), AssemblerStats::default());
}

fn collect(a: &mut Assembler, sender: u32, frames: &[Bytes]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in frames {
        a.push_frame(sender, f, false, &mut |m| out.push(m.to_vec())).unwrap();
    }
    out
}

#[test]
fn lost_fragment_throws_the_message_away_and_recovers() {
    let mut p = Packer::new(MTU);
    p.push(&raw(3189, 1));
    p.push(&raw(50, 2));
    p.flush();
    let frames = drain(&mut p);
    assert_eq!(frames.len(), 4);
    let mut a = Assembler::new(1 << 20);
    // Lose the middle fragment: the tail's continuation 2 does not follow 1.
    let out = collect(&mut a, 1, &[frames[0].clone(), frames[2].clone(), frames[3].clone()]);
    assert_eq!(out, vec![raw(50, 2)]);
    assert_eq!(a.stats().discontinuities, 1);
    assert_eq!(a.pending_senders(), 0);
}

#[test]
fn throw_away_lasts_until_a_message_boundary() {
    let x: Vec<_> = (1..=4).map(|i| raw(100, i)).collect();
    let (m1, m2) = (raw(30, 10), raw(31, 11));
    let mut a = Assembler::new(1 << 20);
    // The first fragment is lost: every continuing piece is skipped...
    let out = collect(&mut a, 7, &[frame(2, 1, &[&x[1]]), frame(3, 2, &[&x[2]])]);
    assert!(out.is_empty());
    assert_eq!(a.pending_senders(), 1);
    // ...up to the end of the lost message; the whole messages after it are kept.
    let out = collect(&mut a, 7, &[frame(0, 3, &[&x[3], &m1, &m2])]);
    assert_eq!(out, vec![m1.clone(), m2.clone()]);
    assert_eq!(a.stats().discontinuities, 1);
    assert_eq!(a.pending_senders(), 0);

    // A clean start (continuation 0) ends throw-away mode at once.
    let out = collect(&mut a, 8, &[frame(5, 4, &[&x[0]]), frame(0, 0, &[&m1])]);
    assert_eq!(out, vec![m1.clone()]);
    // A stray tail followed by a new fragmented message resynchronises too.
    let out = collect(
        &mut a,
        9,
        &[frame(1, 6, &[&x[0], &m1[..10]]), frame(0, 1, &[&m1[10..], &m2])],
    );
    assert_eq!(out, vec![m1.clone(), m2.clone()]);
    assert_eq!(a.pending_senders(), 0);
}

#[test]
fn clean_frame_mid_message_drops_the_partial() {
    let (x, m) = (raw(100, 1), raw(20, 2));
    let mut a = Assembler::new(1 << 20);
    let out = collect(&mut a, 1, &[frame(1, 0, &[&x]), frame(0, 0, &[&m])]);
    assert_eq!(out, vec![m]);
    assert_eq!(a.stats().discontinuities, 1);
}

#[test]
fn forget_drops_a_partial_message() {
    let mut a = Assembler::new(1 << 20);
    let x = raw(100, 1);
    collect(&mut a, 3, &[frame(1, 0, &[&x])]);
    assert_eq!(a.pending_senders(), 1);
    a.forget(3);
    assert_eq!(a.pending_senders(), 0);
    // Its continuation is now a stray tail.
    assert!(collect(&mut a, 3, &[frame(0, 1, &[&x])]).is_empty());
    assert_eq!(a.stats().discontinuities, 1);
}

#[test]
fn oversized_messages_are_dropped_and_counted() {
    let mut p = Packer::new(MTU);
    p.push(&raw(6000, 1));
    p.push(&raw(40, 2));
    p.flush();
    let frames = drain(&mut p);
    let mut a = Assembler::new(5000);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in &frames {
        if let Err(e) = a.push_frame(1, f, false, &mut |m| out.push(m.to_vec())) {
            errors.push(e);
        }
    }
    assert_eq!(errors, vec![FrameError::MessageTooLarge { len: 5600, max: 5000 }]);
    assert_eq!(out, vec![raw(40, 2)]);
    assert_eq!(a.stats().oversized, 1);
    assert_eq!(a.pending_senders(), 0);

    // A whole message in one frame is bounded too; its neighbours still arrive.
    let mut a = Assembler::new(10);
    let mut out = Vec::new();
    let r = a.push_frame(1, &frame(0, 0, &[b"ok", &[0; 11], b"fine"]), false, &mut |m| {
        out.push(m)
    });
    assert_eq!(r, Err(FrameError::MessageTooLarge { len: 11, max: 10 }));
    assert_eq!(out, [Bytes::from_static(b"ok"), Bytes::from_static(b"fine")]);
    // An oversized first fragment: the rest is thrown away.
    let r = a.push_frame(1, &frame(1, 0, &[&[0; 11]]), false, &mut |m| out.push(m));
    assert!(r.is_err());
    a.push_frame(1, &frame(0, 1, &[b"x", b"y"]), false, &mut |m| out.push(m))
        .unwrap();
    assert_eq!(out.last(), Some(&Bytes::from_static(b"y")));
    assert_eq!(out.len(), 3);
}

#[test]
fn foreign_endian_frames() {
    let mut p = Packer::new(MTU);
    p.push(&raw(300, 1));
    p.push(&raw(3000, 2));
    p.push(&raw(7, 3));
    p.flush();
    let frames = drain(&mut p);
    let foreign: Vec<Bytes> = frames.iter().map(to_foreign).collect();
    for (f, g) in frames.iter().zip(&foreign) {
        assert_eq!(Frame::decode(g, true).unwrap(), Frame::decode(f, false).unwrap());
        assert_ne!(f, g);
    }
    // Read with the wrong byte order the lengths do not add up.
    assert!(matches!(
        Frame::decode(&foreign[0], false),
        Err(FrameError::BadLength { .. })
    ));
    let mut a = Assembler::new(1 << 20);
    let mut out = Vec::new();
    for f in &foreign {
        a.push_frame(2, f, true, &mut |m| out.push(m.to_vec())).unwrap();
    }
    assert_eq!(out, vec![raw(300, 1), raw(3000, 2), raw(7, 3)]);
}

#[test]
fn malformed_frames_are_rejected_without_touching_state() {
    let mut a = Assembler::new(1 << 20);
    let x = raw(100, 1);
    collect(&mut a, 1, &[frame(1, 0, &[&x])]);
    let good = frame(0, 1, &[&x]);
    let bad: Vec<(Bytes, FrameError)> = vec![
        (Bytes::from_static(&[0; 7]), FrameError::Truncated(7)),
        (
            Bytes::from_static(&[0, 0, 0, 0, 0, 0, 2, 0, 1, 0]),
            FrameError::Truncated(10),
        ),
        (
            good.slice(..good.len() - 1),
            FrameError::BadLength {
                len: 109,
                expected: 110,
            },
        ),
        (
            Bytes::from([&good[..], &[0]].concat()),
            FrameError::BadLength {
                len: 111,
                expected: 110,
            },
        ),
        (Bytes::from_static(&[0, 0, 0, 0, 1, 0, 0, 0]), FrameError::EmptyFragment),
        (Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 0]), FrameError::EmptyFragment),
    ];
    for (f, e) in bad {
        assert_eq!(
            a.push_frame(1, &f, false, &mut |_| panic!("delivered from {f:?}")),
            Err(e)
        );
    }
    assert_eq!(a.stats().malformed, 6);
    let mut out = Vec::new();
    a.push_frame(1, &good, false, &mut |m| out.push(m.to_vec())).unwrap();
    assert_eq!(out, vec![[&x[..], &x[..]].concat()]);
    // An empty, unfragmented frame is well-formed and delivers nothing.
    a.push_frame(1, &Bytes::from_static(&[0; 8]), false, &mut |_| {
        panic!("nothing to deliver")
    })
    .unwrap();
}

#[test]
fn group_envelope() {
    assert_eq!(encode_groups(&[b"a"], b"xyz"), b"\x01\x00\x01\x00axyz");
    assert_eq!(&encode_groups(&[b"sync"], b"")[..], b"\x01\x00\x04\x00sync");
    let m = encode_groups(&[b"a", b"", b"grp"], b"payload");
    let (names, payload) = decode_groups(&m).unwrap();
    assert_eq!(names, [&b"a"[..], b"", b"grp"]);
    assert_eq!(payload, b"payload");
    assert_eq!(decode_groups(b"\x00\x00rest").unwrap(), (vec![], &b"rest"[..]));
    let be = b"\x00\x01\x00\x04syncdata";
    assert_eq!(
        decode_groups_endian(be, true).unwrap(),
        (vec![&b"sync"[..]], &b"data"[..])
    );

    assert_eq!(
        decode_groups(b""),
        Err(FrameError::GroupsTruncated { len: 0, needed: 2 })
    );
    assert_eq!(
        decode_groups(b"\x01"),
        Err(FrameError::GroupsTruncated { len: 1, needed: 2 })
    );
    assert_eq!(decode_groups(b"\x21\x00"), Err(FrameError::TooManyGroups(33)));
    assert_eq!(
        decode_groups(b"\x02\x00\x01\x00"),
        Err(FrameError::GroupsTruncated { len: 4, needed: 6 })
    );
    assert_eq!(
        decode_groups(b"\x01\x00\x05\x00abc"),
        Err(FrameError::GroupsTruncated { len: 7, needed: 9 })
    );

    // The allocation-free reading of a one-group message agrees with the general one.
    for m in [
        &encode_groups(&[b"a"], b"xyz")[..],
        &encode_groups(&[b"sync"], b"")[..],
        &m[..],
        b"\x00\x00rest",
        b"",
        b"\x01",
        b"\x01\x00",
        b"\x01\x00\x05\x00abc",
        b"\x01\x00\x03\x00abc",
        b"\x21\x00",
    ] {
        let general = decode_groups(m)
            .ok()
            .filter(|(g, _)| g.len() == 1)
            .map(|(g, p)| (g[0], p));
        assert_eq!(decode_single_group(m), general, "{m:?}");
    }

    let many = vec![&b"g"[..]; 33];
    assert_eq!(try_encode_groups(&many, b""), Err(FrameError::TooManyGroups(33)));
    let long = vec![0; 70_000];
    assert_eq!(
        try_encode_groups(&[&long], b""),
        Err(FrameError::GroupNameTooLong(70_000))
    );
    assert!(try_encode_groups(&many[..32], b"").is_ok());
}

#[test]
fn tiny_and_huge_mtus_are_clamped() {
    for mtu in [0, 1, 15, 16, 17] {
        let mut p = Packer::new(mtu);
        assert_eq!(p.frame_mtu(), mtu.max(MIN_FRAME_MTU));
        let m = raw(100, 1);
        p.push(&m);
        p.flush();
        let frames = drain(&mut p);
        assert!(frames.iter().all(|f| f.len() <= p.frame_mtu()));
        assert_eq!(reassemble(&mut Assembler::new(1000), 1, &frames), vec![Bytes::from(m)]);
    }
    assert_eq!(Packer::new(1 << 20).frame_mtu(), MAX_FRAME_MTU);
    let mut p = Packer::new(1 << 20);
    let m = raw(200_000, 1);
    p.push(&m);
    let frames = drain(&mut p);
    assert!(frames.iter().all(|f| f.len() <= MAX_FRAME_MTU));
    assert_eq!(
        reassemble(&mut Assembler::new(1 << 20), 1, &frames),
        vec![Bytes::from(m)]
    );
}

/// One message as the packer's caller may hand it over.
#[derive(Debug, Clone)]
enum Input {
    Plain(Vec<u8>),
    Grouped(Vec<Vec<u8>>, Vec<u8>),
    Parts(Vec<Vec<u8>>),
}

impl Input {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Input::Plain(m) => m.clone(),
            Input::Grouped(g, p) => encode_groups(&g.iter().map(Vec::as_slice).collect::<Vec<_>>(), p),
            Input::Parts(parts) => parts.concat(),
        }
    }
}

fn message_len() -> impl Strategy<Value = usize> {
    prop_oneof![0..64usize, 1300..1500usize, 0..5000usize, 2700..3000usize]
}

fn input() -> impl Strategy<Value = Input> {
    let bytes = || message_len().prop_flat_map(|n| prop::collection::vec(any::<u8>(), n));
    let name = prop::collection::vec(any::<u8>(), 0..6);
    prop_oneof![
        bytes().prop_map(Input::Plain),
        (prop::collection::vec(name, 0..3), bytes()).prop_map(|(g, p)| Input::Grouped(g, p)),
        prop::collection::vec(bytes(), 0..4).prop_map(Input::Parts),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_sequence_roundtrips(
        mtu in prop_oneof![Just(MTU), 16usize..3000],
        inputs in prop::collection::vec((input(), any::<bool>()), 0..12),
    ) {
        let mut p = Packer::new(mtu);
        let mut a = Assembler::new(1 << 20);
        let mut out = Vec::new();
        let mut expected = Vec::new();
        let deliver = |frames: Vec<Bytes>, a: &mut Assembler, out: &mut Vec<Vec<u8>>| {
            for f in frames {
                prop_assert!(f.len() <= p_mtu(mtu));
                a.push_frame(5, &f, false, &mut |m| out.push(m.to_vec())).unwrap();
            }
            Ok(())
        };
        for (input, flush) in &inputs {
            let bytes = input.bytes();
            let bound = match input {
                Input::Parts(parts) => p.frames_needed_vectored(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()),
                _ => p.frames_needed(bytes.len()),
            };
            match input {
                Input::Parts(parts) => p.push_vectored(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()),
                _ => p.push(&bytes),
            }
            let frames = drain(&mut p);
            prop_assert!(frames.len() <= bound, "{} frames > bound {}", frames.len(), bound);
            deliver(frames, &mut a, &mut out)?;
            if *flush {
                p.flush();
                deliver(drain(&mut p), &mut a, &mut out)?;
            }
            expected.push(bytes);
        }
        p.flush();
        deliver(drain(&mut p), &mut a, &mut out)?;
        prop_assert_eq!(out, expected);
        prop_assert_eq!(a.pending_senders(), 0);
        prop_assert_eq!(a.stats(), AssemblerStats::default());
    }

    #[test]
    fn random_frames_never_panic(
        frames in prop::collection::vec(
            (0u32..4, any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)), 0..40),
        max in 0usize..100,
    ) {
        let mut a = Assembler::new(max);
        for (sender, foreign, bytes) in frames {
            let f = Bytes::from(bytes);
            let _ = Frame::decode(&f, foreign);
            let _ = decode_groups_endian(&f, foreign);
            let general = decode_groups(&f).ok().filter(|(g, _)| g.len() == 1).map(|(g, p)| (g[0], p));
            prop_assert_eq!(decode_single_group(&f), general);
            let _ = a.push_frame(sender, &f, foreign, &mut |m| assert!(m.len() <= max));
            prop_assert!(a.pending_senders() <= 4);
        }
    }

    #[test]
    fn random_well_formed_frames_keep_bounds(
        frames in prop::collection::vec(
            (0u32..3, 0u8..4, 0u8..4, prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..4)),
            0..60),
        max in 0usize..80,
    ) {
        let mut a = Assembler::new(max);
        for (sender, fragmented, continuation, msgs) in frames {
            let f = frame(fragmented, continuation, &msgs.iter().map(Vec::as_slice).collect::<Vec<_>>());
            let r = a.push_frame(sender, &f, false, &mut |m| assert!(m.len() <= max));
            if let Err(e) = r {
                prop_assert!(matches!(e, FrameError::MessageTooLarge { .. }), "{e}");
            }
            prop_assert!(a.pending_senders() <= 3);
        }
    }
}

/// The frame size a packer built with `mtu` stays within.
fn p_mtu(mtu: usize) -> usize {
    Packer::new(mtu).frame_mtu()
}
