//! Collective shapes for mediated channels (Redis, S3). Storage is written once and
//! read by many, so the shapes differ from the direct ones: a broadcast is one
//! upload and n-1 downloads, a gather n-1 uploads and the root's n-1 downloads, an
//! allreduce a reduce to rank 0 and a broadcast of its result (the FMI paper's
//! shapes, which its cost model prices).
//!
//! Every operation of a communicator gets the next sequence number, the same on
//! every rank because collectives are called in the same order; its keys are
//! `c/{context}/{sequence}/{name}`, so operations never see each other's data.
//! Reductions combine in rank order, whatever arrives first, so every rank gets
//! the same bits and non-commutative ops see rank order.
//!
//! Cleanup: a rank deletes what it wrote once it knows every reader is done. That
//! is known after an operation in which it read something every rank wrote after
//! entering it (allreduce, allgather, alltoall, barrier, reduce-scatter): every
//! rank has then finished all earlier operations. What remains goes when the last
//! rank leaves (see `engine::World::leave_stores`).

use crate::channel::store::{ChannelKind, Store};
use crate::comm::Comm;
use crate::datatype::Datatype;
use crate::error::{Error, ErrorKind, Result};
use crate::op::Op;
use crate::policy;
use std::sync::Arc;
use std::time::Instant;

/// Requests one rank has in flight at once against an object store.
const MAX_PARALLEL: usize = 16;

/// What a key holds: a tag, the comm rank that writes it, and the one it is for.
type Name = (&'static str, u32, Option<u32>);

/// One collective operation over a store.
pub(crate) struct Stage<'c> {
    comm: &'c Comm,
    store: Arc<dyn Store>,
    seq: u64,
    deadline: Option<Instant>,
    /// The first mismatch of sizes seen; the operation still runs to its end so
    /// that no peer is left waiting, then fails with it.
    mismatch: Option<Error>,
}

impl<'c> Stage<'c> {
    /// The stage of the next collective of `comm`, if the policy sends an
    /// operation `op` of `bytes` (per rank) through a mediated channel.
    pub(crate) fn pick(comm: &'c Comm, op: policy::Op, bytes: usize) -> Result<Option<Stage<'c>>> {
        let Some(store) = comm.mediated_for(op, bytes)? else {
            return Ok(None);
        };
        let seq = comm.next_staged_seq();
        let deadline = comm.world().cfg.timeout.map(|t| Instant::now() + t);
        Ok(Some(Stage {
            comm,
            store,
            seq,
            deadline,
            mismatch: None,
        }))
    }

    /// The key of what comm rank `from` writes under `tag` (for comm rank `to`).
    /// Ranks go in as world ranks: the communicators of one split share a context
    /// id, and only their members tell their keys apart.
    fn key(&self, tag: &str, from: u32, to: Option<u32>) -> String {
        let g = self.comm.group();
        let (ctx, seq, w) = (self.comm.ctx_id(), self.seq, g.world_rank(from));
        match to {
            Some(t) => format!("c/{ctx}/{seq}/{tag}{w}.{}", g.world_rank(t)),
            None => format!("c/{ctx}/{seq}/{tag}{w}"),
        }
    }

    fn failed(&self, e: Error) -> Error {
        self.comm.world().mark_failed();
        e
    }

    fn put(&self, name: Name, data: &[u8]) -> Result<()> {
        let key = self.key(name.0, name.1, name.2);
        self.store.put(&key, data).map_err(|e| self.failed(e))?;
        self.comm.record_staged(self.seq, key);
        Ok(())
    }

    /// Reads `name` into `out`, which must be exactly its size.
    fn get_into(&mut self, name: Name, out: &mut [u8]) -> Result<()> {
        let v = self.get(name)?;
        self.take_into(name, v, out);
        Ok(())
    }

    /// Copies `v`, the value of `name`, into `out`; a size that differs is recorded
    /// (see `mismatch`) and as much as fits is copied.
    fn take_into(&mut self, name: Name, v: Vec<u8>, out: &mut [u8]) {
        if v.len() != out.len() {
            let (kind, how) = if v.len() > out.len() {
                (ErrorKind::Truncate, "larger")
            } else {
                (ErrorKind::Arg, "smaller")
            };
            let key = self.key(name.0, name.1, name.2);
            self.mismatch.get_or_insert(Error::new(
                kind,
                format!(
                    "{} channel: {key} has {} bytes, {how} than the {} this rank expects (do the ranks pass the same counts?)",
                    self.store.kind().name(),
                    v.len(),
                    out.len()
                ),
            ));
            let n = v.len().min(out.len());
            out[..n].copy_from_slice(&v[..n]);
            return;
        }
        out.copy_from_slice(&v);
    }

    /// Writes several keys. An object store serves concurrent requests in
    /// parallel (the model counts on it), so those go from threads; Redis serves
    /// one command at a time, so one connection in turn is as fast.
    fn put_all(&self, items: Vec<(Name, &[u8])>) -> Result<()> {
        if !self.parallel() || items.len() < 2 {
            return items.into_iter().try_for_each(|(n, d)| self.put(n, d));
        }
        let results = self.in_parallel(items.len(), |i| self.put(items[i].0, items[i].1));
        results.into_iter().collect()
    }

    /// Reads several keys into their buffers (see `put_all`).
    fn get_all(&mut self, items: Vec<(Name, &mut [u8])>) -> Result<()> {
        let values: Vec<Result<Vec<u8>>> = if !self.parallel() || items.len() < 2 {
            items.iter().map(|(n, _)| self.get(*n)).collect()
        } else {
            self.in_parallel(items.len(), |i| self.get(items[i].0))
        };
        for ((name, out), v) in items.into_iter().zip(values) {
            self.take_into(name, v?, out);
        }
        Ok(())
    }

    /// Uploads block r of `data` (n blocks of `block` bytes) under `tag` for every
    /// rank r but this one.
    fn put_blocks(&self, tag: &'static str, data: &[u8], block: usize) -> Result<()> {
        let me = self.me();
        let items = (0..self.n())
            .filter(|&r| r != me)
            .map(|r| {
                let at = r as usize * block;
                ((tag, me, Some(r)), &data[at..at + block])
            })
            .collect();
        self.put_all(items)
    }

    /// Downloads what every other rank wrote under `tag` (for this rank, with
    /// `for_me`) into its block of `recv` (n blocks of `block` bytes).
    fn get_blocks(
        &mut self,
        tag: &'static str,
        for_me: bool,
        recv: &mut [u8],
        block: usize,
    ) -> Result<()> {
        let (me, n) = (self.me(), self.n() as usize);
        let to = for_me.then_some(me);
        // Empty blocks still go through storage, so that the ranks still meet.
        let blocks: Vec<&mut [u8]> = if block == 0 {
            (0..n).map(|_| <&mut [u8]>::default()).collect()
        } else {
            recv.chunks_mut(block).take(n).collect()
        };
        let items = blocks
            .into_iter()
            .enumerate()
            .filter(|(r, _)| *r as u32 != me)
            .map(|(r, b)| ((tag, r as u32, to), b))
            .collect();
        self.get_all(items)
    }

    fn parallel(&self) -> bool {
        self.store.kind() == ChannelKind::S3
    }

    /// `f(0..n)` on up to `MAX_PARALLEL` threads, results in order.
    fn in_parallel<T: Send>(
        &self,
        n: usize,
        f: impl Fn(usize) -> Result<T> + Sync,
    ) -> Vec<Result<T>> {
        let mut out = Vec::with_capacity(n);
        let f = &f;
        for start in (0..n).step_by(MAX_PARALLEL) {
            let end = (start + MAX_PARALLEL).min(n);
            std::thread::scope(|sc| {
                let hs: Vec<_> = (start..end).map(|i| sc.spawn(move || f(i))).collect();
                for h in hs {
                    out.push(h.join().unwrap_or_else(|p| {
                        Err(Error::internal(format!(
                            "storage request thread panicked: {}",
                            crate::error::panic_text(&*p)
                        )))
                    }));
                }
            });
        }
        out
    }

    fn get(&self, name: Name) -> Result<Vec<u8>> {
        let key = self.key(name.0, name.1, name.2);
        self.store
            .get(&key, self.deadline)
            .map_err(|e| self.failed(e))
    }

    /// Ends the operation. `all_started`: this rank read data that every rank
    /// wrote after entering this operation, so every rank is done with the earlier
    /// ones and their keys can go.
    fn finish(self, all_started: bool) -> Result<()> {
        if all_started {
            let old = self.comm.take_staged_before(self.seq);
            if !old.is_empty() {
                if let Err(e) = self.store.delete(&old) {
                    log::warn!("{}: {}", self.store.kind().name(), e.msg);
                }
            }
        }
        match self.mismatch {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn me(&self) -> u32 {
        self.comm.rank()
    }

    fn n(&self) -> u32 {
        self.comm.size()
    }
}

/// The root uploads once; everyone else downloads.
pub(crate) fn bcast(mut st: Stage, buf: &mut [u8], root: u32) -> Result<()> {
    if st.me() == root {
        st.put(("b", root, None), buf)?;
    } else {
        st.get_into(("b", root, None), buf)?;
    }
    st.finish(false)
}

/// Every rank but the root uploads its block; the root downloads them in place.
pub(crate) fn gather(
    mut st: Stage,
    own: &[u8],
    recv: &mut [u8],
    block: usize,
    root: u32,
) -> Result<()> {
    let me = st.me();
    if me != root {
        st.put(("g", me, None), own)?;
        return st.finish(false);
    }
    st.get_blocks("g", false, recv, block)?;
    st.finish(true)
}

/// The root uploads one block per rank; each rank downloads its own.
pub(crate) fn scatter(
    mut st: Stage,
    send: &[u8],
    recv: Option<&mut [u8]>,
    block: usize,
    root: u32,
) -> Result<()> {
    let me = st.me();
    if me == root {
        st.put_blocks("s", send, block)?;
        if let Some(out) = recv {
            let at = me as usize * block;
            if out.len() != block {
                return Err(Error::arg(
                    "scatter: receive buffer size differs from the block size",
                ));
            }
            out.copy_from_slice(&send[at..at + block]);
        }
    } else if let Some(out) = recv {
        st.get_into(("s", root, Some(me)), out)?;
    }
    st.finish(false)
}

/// Every rank uploads its block and downloads everyone else's.
pub(crate) fn allgather(mut st: Stage, recv: &mut [u8], block: usize) -> Result<()> {
    let me = st.me() as usize;
    st.put(("a", me as u32, None), &recv[me * block..(me + 1) * block])?;
    st.get_blocks("a", false, recv, block)?;
    st.finish(true)
}

/// Every rank uploads one block per peer and downloads one from each.
pub(crate) fn alltoall(mut st: Stage, send: &[u8], recv: &mut [u8], block: usize) -> Result<()> {
    let me = st.me() as usize;
    st.put_blocks("t", send, block)?;
    recv[me * block..(me + 1) * block].copy_from_slice(&send[me * block..(me + 1) * block]);
    st.get_blocks("t", true, recv, block)?;
    st.finish(true)
}

/// Rank i's block (`counts[i]` bytes) lands at the root's `displs[i]`.
pub(crate) fn gatherv(mut st: Stage, own: &[u8], recv: &mut [&mut [u8]], root: u32) -> Result<()> {
    let me = st.me();
    if me != root {
        st.put(("g", me, None), own)?;
        return st.finish(false);
    }
    let items = recv
        .iter_mut()
        .enumerate()
        .filter(|(r, _)| *r as u32 != root)
        .map(|(r, out)| (("g", r as u32, None), &mut **out))
        .collect();
    st.get_all(items)?;
    st.finish(true)
}

/// The root's block i goes to rank i.
pub(crate) fn scatterv(mut st: Stage, blocks: &[&[u8]], recv: &mut [u8], root: u32) -> Result<()> {
    let me = st.me();
    if me == root {
        let items = blocks
            .iter()
            .enumerate()
            .filter(|(r, _)| *r as u32 != root)
            .map(|(r, b)| (("s", root, Some(r as u32)), *b))
            .collect();
        st.put_all(items)?;
    } else {
        st.get_into(("s", root, Some(me)), recv)?;
    }
    st.finish(false)
}

/// Every rank uploads its block and downloads the others into their places.
pub(crate) fn allgatherv(mut st: Stage, bufs: &mut [&mut [u8]]) -> Result<()> {
    let me = st.me() as usize;
    st.put(("a", me as u32, None), bufs[me])?;
    let items = bufs
        .iter_mut()
        .enumerate()
        .filter(|(r, _)| *r != me)
        .map(|(r, out)| (("a", r as u32, None), &mut **out))
        .collect();
    st.get_all(items)?;
    st.finish(true)
}

/// Every rank uploads its block for each peer and downloads each peer's for it.
pub(crate) fn alltoallv(
    mut st: Stage,
    send: &[&[u8]],
    recv: &mut [Option<&mut [u8]>],
) -> Result<()> {
    let me = st.me() as usize;
    let items = send
        .iter()
        .enumerate()
        .filter(|(r, _)| *r != me)
        .map(|(r, b)| (("t", me as u32, Some(r as u32)), *b))
        .collect();
    st.put_all(items)?;
    let items = recv
        .iter_mut()
        .enumerate()
        .filter(|(r, _)| *r != me)
        .filter_map(|(r, out)| Some((("t", r as u32, Some(me as u32)), out.as_deref_mut()?)))
        .collect();
    st.get_all(items)?;
    st.finish(true)
}

/// Reads the contributions of `ranks` under `name` (each as long as `acc`; this
/// rank's is `own`) and folds them in rank order into `acc`: x_first op ... op x_last.
#[allow(clippy::too_many_arguments)]
fn fold(
    st: &mut Stage,
    name: &'static str,
    to: Option<u32>,
    ranks: std::ops::Range<u32>,
    own: &[u8],
    acc: &mut [u8],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    let me = st.me();
    let mut inputs: Vec<Vec<u8>> = ranks
        .clone()
        .map(|r| {
            if r == me {
                own.to_vec()
            } else {
                vec![0u8; acc.len()]
            }
        })
        .collect();
    let items = ranks
        .zip(inputs.iter_mut())
        .filter(|(r, _)| *r != me)
        .map(|(r, b)| ((name, r, to), &mut b[..]))
        .collect();
    st.get_all(items)?;
    let Some((first, rest)) = inputs.split_first_mut() else {
        return Ok(());
    };
    acc.copy_from_slice(first);
    for x in rest {
        // acc = acc op x, in rank order; `x` is scratch afterwards.
        op.apply_into_left(dt, acc, x);
    }
    Ok(())
}

/// Every rank but the root uploads; the root downloads and combines in rank order.
/// `work` is this rank's input, and the result at the root.
pub(crate) fn reduce(
    mut st: Stage,
    work: &mut [u8],
    dt: Datatype,
    op: &Op,
    root: u32,
) -> Result<()> {
    reduce_in(&mut st, work, dt, op, root)?;
    let at_root = st.me() == root;
    st.finish(at_root)
}

fn reduce_in(st: &mut Stage, work: &mut [u8], dt: Datatype, op: &Op, root: u32) -> Result<()> {
    let me = st.me();
    if me != root {
        return st.put(("r", me, None), work);
    }
    let own = work.to_vec();
    let n = st.n();
    fold(st, "r", None, 0..n, &own, work, dt, op)
}

/// Reduce to rank 0, then broadcast its result; every rank's download of the
/// result proves that every rank has entered.
pub(crate) fn allreduce(mut st: Stage, work: &mut [u8], dt: Datatype, op: &Op) -> Result<()> {
    reduce_in(&mut st, work, dt, op, 0)?;
    if st.me() == 0 {
        st.put(("b", 0, None), work)?;
    } else {
        st.get_into(("b", 0, None), work)?;
    }
    st.finish(true)
}

/// Rank r combines ranks 0..=r (inclusive) or 0..r (exclusive; rank 0's output
/// is left alone). Every rank but the last uploads.
pub(crate) fn scan(
    mut st: Stage,
    own: &[u8],
    out: &mut [u8],
    dt: Datatype,
    op: &Op,
    inclusive: bool,
) -> Result<()> {
    let (me, n) = (st.me(), st.n());
    if me + 1 < n {
        st.put(("p", me, None), own)?;
    }
    let upto = if inclusive { me + 1 } else { me };
    if upto > 0 {
        fold(&mut st, "p", None, 0..upto, own, out, dt, op)?;
    }
    let last = me + 1 == n;
    st.finish(last)
}

/// Every rank uploads block r of its input for rank r; each rank downloads its
/// block from everyone and combines in rank order.
pub(crate) fn reduce_scatter_block(
    mut st: Stage,
    input: &[u8],
    out: &mut [u8],
    dt: Datatype,
    op: &Op,
) -> Result<()> {
    let (me, n) = (st.me() as usize, st.n() as usize);
    let block = out.len();
    st.put_blocks("q", input, block)?;
    let own = &input[me * block..(me + 1) * block];
    fold(&mut st, "q", Some(me as u32), 0..n as u32, own, out, dt, op)?;
    st.finish(true)
}

/// Every rank but 0 uploads a token; rank 0 downloads them all, then uploads the
/// release that everyone else downloads.
pub(crate) fn barrier(mut st: Stage) -> Result<()> {
    let (me, n) = (st.me(), st.n());
    if me != 0 {
        st.put(("x", me, None), &[1])?;
        let mut b = [0u8; 1];
        st.get_into(("go", 0, None), &mut b)?;
    } else {
        let mut tokens = vec![0u8; n as usize - 1];
        let items = tokens
            .chunks_mut(1)
            .enumerate()
            .map(|(i, b)| (("x", i as u32 + 1, None), b))
            .collect();
        st.get_all(items)?;
        st.put(("go", 0, None), &[1])?;
    }
    st.finish(true)
}
