//! Point-to-point semantics through the safe core, with ranks as threads.

mod common;

use fmi::channel::RawBuf;
use fmi::comm::{ANY_SOURCE, ANY_TAG};
use fmi::ErrorKind;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn ring_of_sizes() {
    common::run(3, |c| {
        let n = c.size() as i32;
        let me = c.rank() as i32;
        for &len in &[0usize, 1, 1000, 65536, 65537, (1 << 20) + 3] {
            let data = pattern(len, me as u8);
            let mut buf = vec![0u8; len];
            let s = c
                .sendrecv(&data, (me + 1) % n, 7, &mut buf, (me + n - 1) % n, 7)
                .unwrap();
            assert_eq!(s.source, (me + n - 1) % n);
            assert_eq!(s.bytes, len);
            assert_eq!(buf, pattern(len, ((me + n - 1) % n) as u8), "len {len}");
        }
    });
}

#[test]
fn order_wildcards_unexpected() {
    common::run(2, |c| {
        if c.rank() == 0 {
            for i in 0..500u32 {
                let len = if i % 50 == 0 { 200_000 } else { 4 };
                let mut d = vec![0u8; len];
                d[..4].copy_from_slice(&i.to_le_bytes());
                c.send(&d, 1, 3).unwrap();
            }
            for t in 0..5 {
                c.send(&[t as u8], 1, 10 + t).unwrap();
            }
        } else {
            let mut buf = vec![0u8; 200_000];
            for i in 0..500u32 {
                let s = c.recv(&mut buf, ANY_SOURCE, ANY_TAG).unwrap();
                assert_eq!((s.source, s.tag), (0, 3));
                assert_eq!(u32::from_le_bytes(buf[..4].try_into().unwrap()), i);
            }
            // Unexpected messages taken out of order by tag.
            for t in (0..5).rev() {
                let mut b = [0u8; 1];
                let s = c.recv(&mut b, 0, 10 + t).unwrap();
                assert_eq!((s.tag, b[0]), (10 + t, t as u8));
            }
        }
        c.barrier().unwrap();
    });
}

#[test]
fn truncation_keeps_connection() {
    common::run(2, |c| {
        if c.rank() == 0 {
            c.send(&pattern(100, 1), 1, 0).unwrap();
            c.send(&pattern(3 << 20, 2), 1, 0).unwrap();
            c.send(&pattern(10, 3), 1, 0).unwrap();
        } else {
            let mut small = vec![0u8; 10];
            let e = c.recv(&mut small, 0, 0).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Truncate);
            assert_eq!(small, pattern(10, 1));
            let mut mid = vec![0u8; 1 << 20];
            let e = c.recv(&mut mid, 0, 0).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Truncate);
            assert_eq!(mid, pattern(3 << 20, 2)[..1 << 20]);
            let s = c.recv(&mut small, 0, 0).unwrap();
            assert_eq!((s.bytes, small.clone()), (10, pattern(10, 3)));
        }
    });
}

#[test]
fn nonblocking_both_ways_and_self() {
    common::run(2, |c| {
        let other = 1 - c.rank() as i32;
        let sizes = [8usize, 70_000, 2 << 20];
        let sends: Vec<Vec<u8>> = sizes.iter().map(|&l| pattern(l, c.rank() as u8)).collect();
        let mut recvs: Vec<Vec<u8>> = sizes.iter().map(|&l| vec![0u8; l]).collect();
        let mut reqs = Vec::new();
        for (i, r) in recvs.iter_mut().enumerate() {
            // SAFETY: waited for below, before the buffers are dropped.
            reqs.push(
                unsafe { c.irecv(RawBuf::new(r.as_mut_ptr(), r.len()), other, i as i32) }.unwrap(),
            );
        }
        for (i, s) in sends.iter().enumerate() {
            // SAFETY: as above.
            reqs.push(
                unsafe { c.isend(RawBuf::new(s.as_ptr() as *mut u8, s.len()), other, i as i32) }
                    .unwrap(),
            );
        }
        for r in reqs {
            assert!(r.wait().unwrap().error.is_none());
        }
        for (i, r) in recvs.iter().enumerate() {
            assert_eq!(r, &pattern(sizes[i], other as u8));
        }
        // To self, large and small, blocking send with the receive posted first.
        let mut back = vec![0u8; 3 << 20];
        // SAFETY: waited for below.
        let r = unsafe {
            c.irecv(
                RawBuf::new(back.as_mut_ptr(), back.len()),
                c.rank() as i32,
                5,
            )
        }
        .unwrap();
        c.send(&pattern(3 << 20, 9), c.rank() as i32, 5).unwrap();
        assert_eq!(r.wait().unwrap().bytes, 3 << 20);
        assert_eq!(back, pattern(3 << 20, 9));
        // Probe before receive.
        c.send(&[1, 2, 3], other, 77).unwrap();
        let s = c.probe(ANY_SOURCE, 77, true).unwrap().unwrap();
        assert_eq!((s.source, s.bytes), (other, 3));
        let mut b = [0u8; 3];
        c.recv(&mut b, other, 77).unwrap();
        assert_eq!(b, [1, 2, 3]);
        assert!(c.probe(other, 77, false).unwrap().is_none());
        c.barrier().unwrap();
    });
}

#[test]
fn dup_and_split_separate_traffic() {
    common::run(5, |c| {
        let d = c.dup().unwrap();
        let me = c.rank() as i32;
        let n = c.size() as i32;
        // Same tag on both communicators, sent in the opposite order of the receives.
        let to = (me + 1) % n;
        let from = (me + n - 1) % n;
        c.send(&[1], to, 0).unwrap();
        d.send(&[2], to, 0).unwrap();
        let mut b = [0u8];
        d.recv(&mut b, from, 0).unwrap();
        assert_eq!(b[0], 2);
        c.recv(&mut b, from, 0).unwrap();
        assert_eq!(b[0], 1);
        let s = c.split(me % 2, -me).unwrap().unwrap();
        let expect = if me % 2 == 0 { 3 } else { 2 };
        assert_eq!(s.size(), expect);
        // key = -rank reverses the order.
        let members: Vec<i32> = (0..n).filter(|r| r % 2 == me % 2).rev().collect();
        assert_eq!(members[s.rank() as usize], me);
        s.barrier().unwrap();
        let none = d.split(-1, 0).unwrap();
        assert!(none.is_none());
        c.barrier().unwrap();
    });
}

#[test]
fn bad_arguments() {
    common::run(2, |c| {
        assert_eq!(c.send(&[1], 2, 0).unwrap_err().kind, ErrorKind::Arg);
        assert_eq!(c.send(&[1], 0, -5).unwrap_err().kind, ErrorKind::Arg);
        assert_eq!(c.recv(&mut [0], -7, 0).unwrap_err().kind, ErrorKind::Arg);
        c.barrier().unwrap();
    });
}

#[test]
fn pingpong_around_eager_limit() {
    common::run(2, |c| {
        let other = 1 - c.rank() as i32;
        for &len in &[65535usize, 65536, 65537, 200_000] {
            let mut buf = pattern(len, 4);
            for i in 0..300 {
                if c.rank() == 0 {
                    c.send(&buf, other, i).unwrap();
                    c.recv(&mut buf, other, i).unwrap();
                } else {
                    c.recv(&mut buf, other, i).unwrap();
                    c.send(&buf, other, i).unwrap();
                }
            }
            assert_eq!(buf, pattern(len, 4));
        }
    });
}

/// With no time to punch, every pair relays through the rendezvous server: the same
/// semantics (order, wildcards, large messages, collectives) hold over the relay.
#[test]
fn relayed_pairs_keep_semantics() {
    common::run_with(
        4,
        |cfg| cfg.punch_timeout = std::time::Duration::ZERO,
        |c| {
            let n = c.size() as i32;
            let me = c.rank() as i32;
            for &len in &[0usize, 8, 65537, (4 << 20) + 1] {
                let data = pattern(len, me as u8);
                let mut buf = vec![0u8; len];
                let s = c
                    .sendrecv(&data, (me + 1) % n, 3, &mut buf, (me + n - 1) % n, 3)
                    .unwrap();
                assert_eq!(s.bytes, len);
                assert_eq!(buf, pattern(len, ((me + n - 1) % n) as u8), "len {len}");
            }
            if me == 0 {
                let mut seen = Vec::new();
                for _ in 0..3 * 50 {
                    let mut b = [0u8; 8];
                    let s = c.recv_status(&mut b, ANY_SOURCE, ANY_TAG).unwrap();
                    let (src, i) = (s.source, u32::from_le_bytes(b[4..].try_into().unwrap()));
                    assert_eq!(u32::from_le_bytes(b[..4].try_into().unwrap()), src as u32);
                    seen.push((src, i));
                }
                for src in 1..n {
                    let order: Vec<u32> = seen.iter().filter(|x| x.0 == src).map(|x| x.1).collect();
                    assert_eq!(order, (0..50).collect::<Vec<u32>>(), "order from {src}");
                }
            } else {
                for i in 0..50u32 {
                    let mut m = (me as u32).to_le_bytes().to_vec();
                    m.extend_from_slice(&i.to_le_bytes());
                    c.send(&m, 0, i as i32).unwrap();
                }
            }
            let mut sum = [0u8; 8];
            fmi::coll::allreduce(
                &c,
                Some(&(me as u64 + 1).to_ne_bytes()),
                &mut sum,
                fmi::datatype::Datatype::Uint64,
                &fmi::op::Op::Builtin(fmi::op::Builtin::Sum),
            )
            .unwrap();
            assert_eq!(u64::from_ne_bytes(sum), (1..=n as u64).sum::<u64>());
            fmi::coll::barrier(&c).unwrap();
        },
    );
}
