//! Collectives against straightforward local references, ranks as threads: every
//! collective at 1, 2, 3, 4, 5, 7 and 8 ranks, sizes from 0 to a few MiB, every root,
//! in place and not, built-in and user ops (a non-commutative 2x2 matrix product and
//! the non-associative 3a+b), on world, dup and split communicators.

mod common;

use fmi::coll;
use fmi::comm::Comm;
use fmi::datatype::Datatype;
use fmi::op::{Builtin, Op};
use fmi::ErrorKind;

const RANKS: [u32; 7] = [1, 2, 3, 4, 5, 7, 8];
/// Element counts (i64): empty, one, odd, across the small/large switch points.
const COUNTS: [usize; 5] = [0, 1, 13, 1000, 40_000];
/// A few MiB, at fewer rank counts.
const BIG: usize = 400_000;
const BIG_RANKS: [u32; 3] = [2, 3, 5];

fn val(r: u32, i: usize) -> i64 {
    (r as i64 + 1) * 1_000_003 + (i as i64 * 7919) % 100_003 - 50_000
}
fn input(r: u32, count: usize) -> Vec<i64> {
    (0..count).map(|i| val(r, i)).collect()
}
fn b(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_ne_bytes()).collect()
}
fn v(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

/// The world, a dup of it, and a split (two colours, keys reversing rank order).
fn comms(world: &Comm, all: bool) -> Vec<Comm> {
    let mut out = Vec::new();
    if all {
        out.push(world.dup().unwrap());
        let r = world.rank() as i32;
        out.push(world.split(r % 2, -r).unwrap().unwrap());
    }
    out
}

fn for_all(ranks: &[u32], all_comms: bool, f: impl Fn(&Comm) + Send + Sync + Clone + 'static) {
    for &n in ranks {
        let f = f.clone();
        common::run(n, move |world| {
            f(&world);
            for c in comms(&world, all_comms) {
                f(&c);
            }
            world.barrier().unwrap();
        });
    }
}

/// 2x2 matrices of wrapping i64 (4 elements each), `inout = in x inout`.
fn matmul() -> Op {
    Op::user(false, true, |a, bb, count, dt| {
        assert_eq!(dt, Datatype::Int64);
        assert_eq!(count % 4, 0);
        let (x, y) = (v(a), v(bb));
        let mut out = Vec::with_capacity(count);
        for (m, n) in x.chunks_exact(4).zip(y.chunks_exact(4)) {
            out.extend_from_slice(&mul(m, n));
        }
        bb.copy_from_slice(&b(&out));
    })
}
fn mul(m: &[i64], n: &[i64]) -> [i64; 4] {
    let f = |a: i64, b: i64, c: i64, d: i64| a.wrapping_mul(b).wrapping_add(c.wrapping_mul(d));
    [
        f(m[0], n[0], m[1], n[2]),
        f(m[0], n[1], m[1], n[3]),
        f(m[2], n[0], m[3], n[2]),
        f(m[2], n[1], m[3], n[3]),
    ]
}
/// `inout = 3 * in + inout`: neither commutative nor associative.
fn three_a_b() -> Op {
    Op::user(false, false, |a, bb, _, _| {
        let (x, y) = (v(a), v(bb));
        let out: Vec<i64> = x
            .iter()
            .zip(&y)
            .map(|(p, q)| p.wrapping_mul(3).wrapping_add(*q))
            .collect();
        bb.copy_from_slice(&b(&out));
    })
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sum,
    Max,
    Mat,
    ThreeAB,
}
fn op_of(k: Kind) -> Op {
    match k {
        Kind::Sum => Op::Builtin(Builtin::Sum),
        Kind::Max => Op::Builtin(Builtin::Max),
        Kind::Mat => matmul(),
        Kind::ThreeAB => three_a_b(),
    }
}
/// left (op) right
fn combine(k: Kind, l: &[i64], r: &[i64]) -> Vec<i64> {
    match k {
        Kind::Sum => l.iter().zip(r).map(|(a, b)| a.wrapping_add(*b)).collect(),
        Kind::Max => l.iter().zip(r).map(|(a, b)| *a.max(b)).collect(),
        Kind::Mat => l
            .chunks_exact(4)
            .zip(r.chunks_exact(4))
            .flat_map(|(m, n)| mul(m, n))
            .collect(),
        Kind::ThreeAB => l
            .iter()
            .zip(r)
            .map(|(a, b)| a.wrapping_mul(3).wrapping_add(*b))
            .collect(),
    }
}
/// Small values for the user ops (so products stay readable), x0 op x1 op ... op x(k-1).
fn uin(k: Kind, r: u32, count: usize) -> Vec<i64> {
    match k {
        Kind::Mat | Kind::ThreeAB => (0..count)
            .map(|i| ((r as i64 * 5 + i as i64 * 3) % 7) - 3)
            .collect(),
        _ => input(r, count),
    }
}
fn fold(k: Kind, upto: u32, count: usize) -> Vec<i64> {
    let mut acc = uin(k, 0, count);
    for r in 1..upto {
        acc = combine(k, &acc, &uin(k, r, count));
    }
    acc
}
const KINDS: [Kind; 4] = [Kind::Sum, Kind::Max, Kind::Mat, Kind::ThreeAB];

fn counts_for(n: u32) -> Vec<usize> {
    let mut c = COUNTS.to_vec();
    if BIG_RANKS.contains(&n) {
        c.push(BIG);
    }
    c
}

#[test]
fn barrier_and_bcast() {
    for_all(&RANKS, true, |c| {
        coll::barrier(c).unwrap();
        let n = c.size();
        for &count in &counts_for(c.size()) {
            for root in 0..n {
                let mut buf = if c.rank() == root {
                    b(&input(root, count))
                } else {
                    vec![0u8; count * 8]
                };
                coll::bcast(c, &mut buf, root).unwrap();
                assert_eq!(
                    v(&buf),
                    input(root, count),
                    "bcast n={n} root={root} count={count}"
                );
            }
        }
        assert_eq!(coll::bcast(c, &mut [], n).unwrap_err().kind, ErrorKind::Arg);
    });
}

#[test]
fn reduce_all_roots_ops_in_place() {
    for_all(&RANKS, false, |c| {
        let (me, n) = (c.rank(), c.size());
        for &count in &[0usize, 1, 12, 40_000] {
            for k in KINDS {
                if matches!(k, Kind::Mat) && count % 4 != 0 {
                    continue;
                }
                let op = op_of(k);
                let want = fold(k, n, count);
                for root in 0..n {
                    let mine = b(&uin(k, me, count));
                    let mut out = vec![0u8; count * 8];
                    if me == root && root % 2 == 1 {
                        out.copy_from_slice(&mine);
                        coll::reduce(c, None, &mut out, Datatype::Int64, &op, root).unwrap();
                    } else {
                        coll::reduce(c, Some(&mine), &mut out, Datatype::Int64, &op, root).unwrap();
                    }
                    if me == root {
                        assert_eq!(
                            v(&out),
                            want,
                            "reduce {k:?} n={n} root={root} count={count}"
                        );
                    }
                }
            }
        }
    });
}

#[test]
fn allreduce_ops_sizes_comms() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank(), c.size());
        for &count in &counts_for(n) {
            for k in KINDS {
                if (count > 50_000 && !matches!(k, Kind::Sum))
                    || (matches!(k, Kind::Mat) && count % 4 != 0)
                {
                    continue;
                }
                let op = op_of(k);
                let mine = b(&uin(k, me, count));
                let mut out = vec![0u8; count * 8];
                coll::allreduce(c, Some(&mine), &mut out, Datatype::Int64, &op).unwrap();
                assert_eq!(
                    v(&out),
                    fold(k, n, count),
                    "allreduce {k:?} n={n} count={count}"
                );
                let mut inplace = mine.clone();
                coll::allreduce(c, None, &mut inplace, Datatype::Int64, &op).unwrap();
                assert_eq!(inplace, out, "in place");
            }
        }
    });
}

/// Floating-point sums: bit-identical on every rank and from run to run.
#[test]
fn float_sums_reproducible() {
    for_all(&[3, 4, 7], false, |c| {
        let me = c.rank();
        for &count in &[5usize, 100_000] {
            let x: Vec<u8> = (0..count)
                .flat_map(|i| (1.0f64 / (1.0 + i as f64 + me as f64 * 0.37)).to_ne_bytes())
                .collect();
            let mut first = vec![0u8; x.len()];
            coll::allreduce(
                c,
                Some(&x),
                &mut first,
                Datatype::Double,
                &Op::Builtin(Builtin::Sum),
            )
            .unwrap();
            for _ in 0..3 {
                let mut again = vec![0u8; x.len()];
                coll::allreduce(
                    c,
                    Some(&x),
                    &mut again,
                    Datatype::Double,
                    &Op::Builtin(Builtin::Sum),
                )
                .unwrap();
                assert_eq!(again, first);
            }
            // the same bits everywhere: compare with rank 0's
            let mut r0 = first.clone();
            coll::bcast(c, &mut r0, 0).unwrap();
            assert_eq!(r0, first, "ranks disagree");
        }
    });
}

#[test]
fn scan_exscan() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank(), c.size());
        for &count in &[0usize, 4, 40_000] {
            for k in KINDS {
                let op = op_of(k);
                let mine = b(&uin(k, me, count));
                let mut out = vec![0u8; count * 8];
                coll::scan(c, Some(&mine), &mut out, Datatype::Int64, &op).unwrap();
                assert_eq!(
                    v(&out),
                    fold(k, me + 1, count),
                    "scan {k:?} n={n} count={count}"
                );
                let mut inplace = mine.clone();
                coll::scan(c, None, &mut inplace, Datatype::Int64, &op).unwrap();
                assert_eq!(inplace, out);
                let mut ex = vec![0x5au8; count * 8];
                coll::exscan(c, &mine, &mut ex, Datatype::Int64, &op).unwrap();
                if me == 0 {
                    assert!(ex.iter().all(|&x| x == 0x5a), "exscan touched rank 0");
                } else {
                    assert_eq!(
                        v(&ex),
                        fold(k, me, count),
                        "exscan {k:?} n={n} count={count}"
                    );
                }
            }
        }
    });
}

#[test]
fn reduce_scatter_block() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank() as usize, c.size());
        for &block in &[0usize, 4, 20_000] {
            for k in KINDS {
                let op = op_of(k);
                let mine = b(&uin(k, me as u32, block * n as usize));
                let want = fold(k, n, block * n as usize);
                let mut out = vec![0u8; block * 8];
                coll::reduce_scatter_block(c, Some(&mine), &mut out, Datatype::Int64, &op).unwrap();
                assert_eq!(
                    v(&out),
                    want[me * block..(me + 1) * block],
                    "{k:?} n={n} block={block}"
                );
                let mut inplace = mine.clone();
                coll::reduce_scatter_block(c, None, &mut inplace, Datatype::Int64, &op).unwrap();
                assert_eq!(inplace[..block * 8], out[..]);
            }
        }
    });
}

#[test]
fn gather_scatter_every_root() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank(), c.size());
        let nn = n as usize;
        for &count in &counts_for(n) {
            let count = count / nn.max(1) + 1;
            let all: Vec<i64> = (0..n).flat_map(|r| input(r, count)).collect();
            for root in 0..n {
                // gather, in place at odd roots
                let mut out = vec![0u8; if me == root { count * 8 * nn } else { 0 }];
                if me == root && root % 2 == 1 {
                    out[me as usize * count * 8..(me as usize + 1) * count * 8]
                        .copy_from_slice(&b(&input(me, count)));
                    coll::gather(c, None, &mut out, count * 8, root).unwrap();
                } else {
                    coll::gather(c, Some(&b(&input(me, count))), &mut out, count * 8, root)
                        .unwrap();
                }
                if me == root {
                    assert_eq!(v(&out), all, "gather n={n} root={root} count={count}");
                }
                // scatter, in place at odd roots
                let send = if me == root { b(&all) } else { Vec::new() };
                let mut got = vec![0u8; count * 8];
                if me == root && root % 2 == 1 {
                    coll::scatter(c, &send, None, count * 8, root).unwrap();
                } else {
                    coll::scatter(c, &send, Some(&mut got), count * 8, root).unwrap();
                    assert_eq!(
                        v(&got),
                        input(me, count),
                        "scatter n={n} root={root} count={count}"
                    );
                }
            }
        }
    });
}

#[test]
fn allgather_alltoall() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank(), c.size());
        let nn = n as usize;
        for &count in &counts_for(n) {
            let count = count / nn;
            let bl = count * 8;
            let all: Vec<i64> = (0..n).flat_map(|r| input(r, count)).collect();
            let mut out = vec![0u8; bl * nn];
            coll::allgather(c, Some(&b(&input(me, count))), &mut out, bl).unwrap();
            assert_eq!(v(&out), all, "allgather n={n} count={count}");
            let mut ip = vec![0u8; bl * nn];
            ip[me as usize * bl..(me as usize + 1) * bl].copy_from_slice(&b(&input(me, count)));
            coll::allgather(c, None, &mut ip, bl).unwrap();
            assert_eq!(ip, out);

            // alltoall: block j of rank i is input(i * 100 + j)
            let send: Vec<i64> = (0..n).flat_map(|j| input(me * 100 + j, count)).collect();
            let want: Vec<i64> = (0..n).flat_map(|i| input(i * 100 + me, count)).collect();
            let mut out = vec![0u8; bl * nn];
            coll::alltoall(c, Some(&b(&send)), &mut out, bl).unwrap();
            assert_eq!(v(&out), want, "alltoall n={n} count={count}");
            let mut ip = b(&send);
            coll::alltoall(c, None, &mut ip, bl).unwrap();
            assert_eq!(v(&ip), want, "alltoall in place n={n} count={count}");
        }
    });
}

/// Rank r sends (r*3 + j) % 5 + extra elements to rank j, with gaps between blocks.
fn vcount(from: u32, to: u32, extra: usize) -> usize {
    ((from * 3 + to) % 5) as usize + extra
}

#[test]
fn v_variants() {
    for_all(&RANKS, true, |c| {
        let (me, n) = (c.rank(), c.size());
        for &extra in &[0usize, 30_000] {
            // gatherv / scatterv: rank i's block has vcount(i, 0) elements
            let cnt: Vec<usize> = (0..n).map(|i| vcount(i, 0, extra)).collect();
            let mut displs = Vec::new();
            let mut off = 0;
            for &k in &cnt {
                displs.push(off + 2);
                off += k + 2;
            }
            let total = off;
            let cb: Vec<usize> = cnt.iter().map(|k| k * 8).collect();
            let db: Vec<usize> = displs.iter().map(|k| k * 8).collect();
            for root in 0..n {
                let mut out = vec![0u8; if me == root { total * 8 } else { 0 }];
                coll::gatherv(
                    c,
                    Some(&b(&input(me, cnt[me as usize]))),
                    &mut out,
                    &cb,
                    &db,
                    root,
                )
                .unwrap();
                if me == root {
                    let o = v(&out);
                    for i in 0..n as usize {
                        assert_eq!(
                            o[displs[i]..displs[i] + cnt[i]],
                            input(i as u32, cnt[i])[..],
                            "gatherv"
                        );
                    }
                }
                let mut send = vec![0i64; total];
                for i in 0..n as usize {
                    send[displs[i]..displs[i] + cnt[i]]
                        .copy_from_slice(&input(i as u32 + 50, cnt[i]));
                }
                let send = if me == root { b(&send) } else { Vec::new() };
                let mut got = vec![0u8; cnt[me as usize] * 8];
                coll::scatterv(c, &send, &cb, &db, Some(&mut got), root).unwrap();
                assert_eq!(v(&got), input(me + 50, cnt[me as usize]), "scatterv");
            }
            // allgatherv with the same layout
            let mut out = vec![0u8; total * 8];
            coll::allgatherv(
                c,
                Some(&b(&input(me, cnt[me as usize]))),
                &mut out,
                &cb,
                &db,
            )
            .unwrap();
            let o = v(&out);
            for i in 0..n as usize {
                assert_eq!(
                    o[displs[i]..displs[i] + cnt[i]],
                    input(i as u32, cnt[i])[..],
                    "allgatherv"
                );
            }
            // alltoallv: to rank j, vcount(me, j) elements of input(me*100+j)
            let sc: Vec<usize> = (0..n).map(|j| vcount(me, j, extra / 8)).collect();
            let rc: Vec<usize> = (0..n).map(|i| vcount(i, me, extra / 8)).collect();
            let sd: Vec<usize> = sc
                .iter()
                .scan(0, |a, k| {
                    let d = *a;
                    *a += k + 1;
                    Some(d)
                })
                .collect();
            let rd: Vec<usize> = rc
                .iter()
                .scan(3, |a, k| {
                    let d = *a;
                    *a += k;
                    Some(d)
                })
                .collect();
            let mut send = vec![0i64; sd[n as usize - 1] + sc[n as usize - 1]];
            for j in 0..n as usize {
                send[sd[j]..sd[j] + sc[j]].copy_from_slice(&input(me * 100 + j as u32, sc[j]));
            }
            let mut out = vec![0u8; (rd[n as usize - 1] + rc[n as usize - 1]) * 8];
            let by = |x: &[usize]| x.iter().map(|k| k * 8).collect::<Vec<_>>();
            coll::alltoallv(
                c,
                &b(&send),
                &by(&sc),
                &by(&sd),
                &mut out,
                &by(&rc),
                &by(&rd),
            )
            .unwrap();
            let o = v(&out);
            for i in 0..n as usize {
                assert_eq!(
                    o[rd[i]..rd[i] + rc[i]],
                    input(i as u32 * 100 + me, rc[i])[..],
                    "alltoallv"
                );
            }
        }
    });
}

/// Every built-in op on every datatype where it is defined, against a reference
/// computed here in i128/f64.
#[test]
fn builtin_ops_all_types() {
    common::run(3, |c| {
        let me = c.rank() as i64;
        for dt in Datatype::ALL {
            for op in Builtin::ALL {
                let o = Op::Builtin(op);
                if o.check(dt).is_err() {
                    assert!(dt.is_float() && op.is_bitwise());
                    let mut buf = vec![0u8; 8];
                    assert_eq!(
                        coll::allreduce(&c, None, &mut buf, dt, &o)
                            .unwrap_err()
                            .kind,
                        ErrorKind::Arg
                    );
                    continue;
                }
                let count = 150;
                let vals = |r: i64| -> Vec<i64> {
                    (0..count)
                        .map(|i| ((i * 7 + r * 13) % 11) - if i % 3 == 0 { 0 } else { 4 })
                        .collect()
                };
                let enc = |x: &[i64]| -> Vec<u8> {
                    x.iter()
                        .flat_map(|&e| match dt {
                            Datatype::Byte | Datatype::Uint8 | Datatype::Char | Datatype::Int8 => {
                                vec![e as u8]
                            }
                            Datatype::Int16 | Datatype::Uint16 => (e as i16).to_ne_bytes().to_vec(),
                            Datatype::Int32 | Datatype::Uint32 => (e as i32).to_ne_bytes().to_vec(),
                            Datatype::Int64 | Datatype::Uint64 => e.to_ne_bytes().to_vec(),
                            Datatype::Float => (e as f32).to_ne_bytes().to_vec(),
                            Datatype::Double => (e as f64).to_ne_bytes().to_vec(),
                        })
                        .collect()
                };
                let unsigned = matches!(
                    dt,
                    Datatype::Byte
                        | Datatype::Uint8
                        | Datatype::Uint16
                        | Datatype::Uint32
                        | Datatype::Uint64
                );
                // reference in i128 on the values as the type sees them
                let as_t = |e: i64| -> i128 {
                    let bits = dt.size() * 8;
                    if dt.is_float() {
                        e as i128
                    } else if unsigned {
                        (e as i128) & ((1i128 << bits) - 1)
                    } else {
                        ((e as i128) << (128 - bits)) >> (128 - bits)
                    }
                };
                let f = |a: i128, b: i128| -> i128 {
                    match op {
                        Builtin::Sum => a.wrapping_add(b),
                        Builtin::Prod => a.wrapping_mul(b), // the type keeps only the low bits
                        Builtin::Min => a.min(b),
                        Builtin::Max => a.max(b),
                        Builtin::Land => ((a != 0) && (b != 0)) as i128,
                        Builtin::Lor => ((a != 0) || (b != 0)) as i128,
                        Builtin::Lxor => ((a != 0) ^ (b != 0)) as i128,
                        Builtin::Band => a & b,
                        Builtin::Bor => a | b,
                        Builtin::Bxor => a ^ b,
                    }
                };
                let want: Vec<i64> = (0..count as usize)
                    .map(|i| {
                        let mut acc = as_t(vals(0)[i]);
                        for r in 1..3 {
                            acc = f(acc, as_t(vals(r)[i]));
                        }
                        acc as i64
                    })
                    .collect();
                let mut out = vec![0u8; count as usize * dt.size()];
                coll::allreduce(&c, Some(&enc(&vals(me))), &mut out, dt, &o).unwrap();
                if dt.is_float() {
                    // compare values: -0.0 == 0.0
                    let dec = |x: &[u8]| -> Vec<f64> {
                        x.chunks_exact(dt.size())
                            .map(|c| {
                                if dt.size() == 4 {
                                    f32::from_ne_bytes(c.try_into().unwrap()) as f64
                                } else {
                                    f64::from_ne_bytes(c.try_into().unwrap())
                                }
                            })
                            .collect()
                    };
                    assert_eq!(dec(&out), dec(&enc(&want)), "{op:?} on {dt:?}");
                } else {
                    assert_eq!(out, enc(&want), "{op:?} on {dt:?}");
                }
            }
        }
    });
}

/// Ranks that disagree about counts get an error, not a hang or silent success.
#[test]
fn mismatched_counts_fail() {
    common::run(3, |c| {
        let me = c.rank();
        // bcast: the root sends 16 bytes, the others expect 8
        let mut buf = vec![0u8; if me == 0 { 16 } else { 8 }];
        let r = coll::bcast(&c, &mut buf, 0);
        if me != 0 {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Truncate);
        }
        // allreduce with rank 1 passing fewer elements
        let mut buf = vec![1u8; if me == 1 { 8 } else { 16 }];
        let r = coll::allreduce(
            &c,
            None,
            &mut buf,
            Datatype::Int64,
            &Op::Builtin(Builtin::Sum),
        );
        if me == 1 {
            assert!(r.is_err(), "rank 1 saw no error");
        }
        // gather: rank 2 sends a bigger block than the root expects
        let mut out = vec![0u8; if me == 0 { 8 * 3 } else { 0 }];
        let mine = vec![0u8; if me == 2 { 16 } else { 8 }];
        let r = coll::gather(&c, Some(&mine), &mut out, mine.len(), 0);
        if me == 0 {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Truncate);
        }
        // root out of range: refused before any message moves
        assert_eq!(
            coll::reduce(
                &c,
                Some(&[0u8; 8]),
                &mut [0u8; 8],
                Datatype::Int64,
                &Op::Builtin(Builtin::Sum),
                3
            )
            .unwrap_err()
            .kind,
            ErrorKind::Arg
        );
        // and the communicator still works afterwards
        coll::barrier(&c).unwrap();
        let mut x = (me as i64).to_ne_bytes().to_vec();
        coll::allreduce(
            &c,
            None,
            &mut x,
            Datatype::Int64,
            &Op::Builtin(Builtin::Sum),
        )
        .unwrap();
        assert_eq!(i64::from_ne_bytes(x[..].try_into().unwrap()), 3);
    });
}

/// 64 ranks as threads: barrier, small allreduce, bcast, alltoall.
#[test]
fn sixty_four_ranks() {
    common::run(64, |c| {
        let (me, n) = (c.rank(), c.size());
        for _ in 0..3 {
            coll::barrier(&c).unwrap();
        }
        let mut x = b(&[me as i64, 1]);
        coll::allreduce(
            &c,
            None,
            &mut x,
            Datatype::Int64,
            &Op::Builtin(Builtin::Sum),
        )
        .unwrap();
        assert_eq!(v(&x), vec![(n * (n - 1) / 2) as i64, n as i64]);
        let mut buf = if me == 5 {
            b(&input(5, 1000))
        } else {
            vec![0u8; 8000]
        };
        coll::bcast(&c, &mut buf, 5).unwrap();
        assert_eq!(v(&buf), input(5, 1000));
        let send: Vec<i64> = (0..n).map(|j| (me * 1000 + j) as i64).collect();
        let mut out = vec![0u8; 8 * n as usize];
        coll::alltoall(&c, Some(&b(&send)), &mut out, 8).unwrap();
        assert_eq!(
            v(&out),
            (0..n).map(|i| (i * 1000 + me) as i64).collect::<Vec<_>>()
        );
    });
}
