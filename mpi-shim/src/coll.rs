//! Collectives: MPI's arguments (counts and displacements in elements of a
//! datatype, MPI_IN_PLACE, roots) turned into FMI's collectives over bytes. Each
//! one is a plain function over a core communicator, so the blocking call runs it
//! on the communicator itself and the non-blocking call (`nbc`) runs the same
//! function on the communicator's twin, in its progress thread.

use crate::abi::*;
use crate::args::{array, in_place, nonneg};
use crate::datatype::{self, Type};
use crate::errors::{fail, Fail, R};
use crate::op;
use fmi::comm::Comm;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// A buffer seen as blocks of elements at element displacements (a v-collective's
/// counts and displs; one block for the plain ones). Data of a dense type is used
/// in place; otherwise it is packed into scratch, block after block.
pub struct Region {
    base: *mut u8,
    t: Arc<Type>,
    blocks: Vec<(usize, isize)>,
    dense: Option<isize>,
    scratch: Vec<u8>,
    /// Byte counts and byte displacements of the blocks in `bytes()`.
    pub counts: Vec<usize>,
    pub displs: Vec<usize>,
}

impl Region {
    /// # Safety
    /// `p` must hold the blocks' elements of `t` while the region lives.
    pub unsafe fn new(
        p: *const c_void,
        t: &Arc<Type>,
        blocks: Vec<(usize, isize)>,
        load: bool,
    ) -> R<Region> {
        let sz = t.size;
        let mut counts = Vec::with_capacity(blocks.len());
        let mut displs = Vec::with_capacity(blocks.len());
        let dense = t.dense();
        let mut packed = 0usize;
        for &(c, d) in &blocks {
            counts.push(
                c.checked_mul(sz)
                    .ok_or_else(|| Fail::new(MPI_ERR_COUNT, "count overflows"))?,
            );
            match dense {
                Some(_) => {
                    let d = usize::try_from(d).map_err(|_| {
                        Fail::new(MPI_ERR_ARG, format!("displacement {d} is negative"))
                    })?;
                    displs.push(d * sz);
                }
                None => {
                    displs.push(packed);
                    packed += c * sz;
                }
            }
        }
        let total: usize = counts
            .iter()
            .zip(&displs)
            .map(|(c, d)| c + d)
            .max()
            .unwrap_or(0);
        if p.is_null() && total > 0 && t.predefined {
            return fail(MPI_ERR_BUFFER, "buffer is NULL with a non-zero count");
        }
        let mut r = Region {
            base: p as *mut u8,
            t: t.clone(),
            blocks,
            dense,
            scratch: Vec::new(),
            counts,
            displs,
        };
        if dense.is_none() {
            r.scratch = vec![0u8; total];
            if load {
                for (i, &(c, d)) in r.blocks.iter().enumerate() {
                    let at = r.displs[i];
                    let src = r.base.wrapping_offset(d * r.t.extent) as *const u8;
                    // SAFETY: the caller guarantees the block's elements are readable.
                    unsafe { r.t.pack(src, c, &mut r.scratch[at..at + c * sz]) };
                }
            }
        }
        Ok(r)
    }

    /// One block of `count` elements.
    ///
    /// # Safety
    /// As `new`.
    pub unsafe fn one(p: *const c_void, t: &Arc<Type>, count: usize, load: bool) -> R<Region> {
        // SAFETY: forwarded.
        unsafe { Region::new(p, t, vec![(count, 0)], load) }
    }

    /// The bytes FMI works on.
    pub fn bytes(&mut self) -> &mut [u8] {
        match self.dense {
            None => &mut self.scratch,
            Some(off) => {
                let total = self
                    .counts
                    .iter()
                    .zip(&self.displs)
                    .map(|(c, d)| c + d)
                    .max()
                    .unwrap_or(0);
                if total == 0 {
                    return &mut [];
                }
                // SAFETY: the program's buffer holds the blocks (see `new`).
                unsafe { std::slice::from_raw_parts_mut(self.base.wrapping_offset(off), total) }
            }
        }
    }

    /// Unpacks received data into the program's buffer (only for packed regions).
    pub fn store(&mut self) {
        if self.dense.is_some() {
            return;
        }
        for (i, &(c, d)) in self.blocks.iter().enumerate() {
            let at = self.displs[i];
            let dst = self.base.wrapping_offset(d * self.t.extent);
            // SAFETY: the program's buffer holds the block's elements (see `new`).
            unsafe { self.t.unpack(&self.scratch[at..at + c * self.t.size], dst) };
        }
    }
}

/// The input of a reduce-scatter: `sbuf`'s data, or with MPI_IN_PLACE a copy of
/// `rbuf`'s (which the output then overwrites).
enum Input {
    Send(Region),
    Copy(Vec<u8>),
}

impl Input {
    /// # Safety
    /// As `Region::new`, for `count` elements at `sbuf` (or `rbuf` in place).
    unsafe fn new(sbuf: *const c_void, rbuf: *mut c_void, t: &Arc<Type>, count: usize) -> R<Input> {
        // SAFETY: forwarded.
        unsafe {
            Ok(if in_place(sbuf) {
                Input::Copy(Region::one(rbuf, t, count, true)?.bytes().to_vec())
            } else {
                Input::Send(Region::one(sbuf, t, count, true)?)
            })
        }
    }

    fn bytes(&mut self) -> &[u8] {
        match self {
            Input::Send(r) => r.bytes(),
            Input::Copy(v) => v,
        }
    }
}

fn root_of(comm: &Comm, root: c_int) -> R<u32> {
    if root < 0 || root as u32 >= comm.size() {
        return fail(
            MPI_ERR_ROOT,
            format!(
                "root {root} is out of range (the communicator has {} ranks)",
                comm.size()
            ),
        );
    }
    Ok(root as u32)
}

/// The root of a rooted collective (0 for the `all` forms, where every rank is a
/// root), whether this rank is a root, and whether `buf` (the root's in-place side)
/// is MPI_IN_PLACE, which only a root may pass.
fn rooted(comm: &Comm, root: c_int, all: bool, buf: *const c_void) -> R<(u32, bool, bool)> {
    let root = if all { 0 } else { root_of(comm, root)? };
    let me = all || comm.rank() == root;
    let inplace = in_place(buf);
    if inplace && !me {
        return fail(MPI_ERR_BUFFER, "MPI_IN_PLACE is only for the root");
    }
    Ok((root, me, inplace))
}

fn ty(dt: MPI_Datatype) -> R<Arc<Type>> {
    datatype::lookup(dt)
}

fn cnt(c: c_int) -> R<usize> {
    datatype::count(c)
}

/// Counts and element displacements of a v-collective.
fn vblocks(n: usize, counts: *const c_int, displs: *const c_int) -> R<Vec<(usize, isize)>> {
    let c = array(counts, n, "counts")?;
    let d = array(displs, n, "displs")?;
    c.iter()
        .zip(d)
        .map(|(&c, &d)| Ok((cnt(c)?, d as isize)))
        .collect()
}

fn regular(n: usize, count: usize) -> Vec<(usize, isize)> {
    (0..n).map(|i| (count, (i * count) as isize)).collect()
}

pub unsafe fn barrier(comm: &Comm) -> R {
    comm.barrier().map_err(Fail::from)
}

pub unsafe fn bcast(
    comm: &Comm,
    buf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    root: c_int,
) -> R {
    let t = ty(dt)?;
    let root = root_of(comm, root)?;
    let me = comm.rank() == root;
    let mut r = Region::one(buf, &t, cnt(count)?, me)?;
    fmi::coll::bcast(comm, r.bytes(), root)?;
    if !me {
        r.store();
    }
    Ok(())
}

pub unsafe fn reduce(
    comm: &Comm,
    sbuf: *const c_void,
    rbuf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    opv: MPI_Op,
    root: c_int,
) -> R {
    let t = ty(dt)?;
    let red = op::reduction(opv, dt, &t)?;
    let (root, me, inplace) = rooted(comm, root, false, sbuf)?;
    let n = cnt(count)?;
    let mut s = if inplace {
        None
    } else {
        Some(Region::one(sbuf, &t, n, true)?)
    };
    let mut scratch;
    let mut r = if me {
        Some(Region::one(rbuf, &t, n, inplace)?)
    } else {
        None
    };
    let recv: &mut [u8] = match r.as_mut() {
        Some(r) => r.bytes(),
        None => {
            scratch = vec![0u8; t.bytes(n)?];
            &mut scratch
        }
    };
    fmi::coll::reduce(
        comm,
        s.as_mut().map(|s| &*s.bytes()),
        recv,
        red.dt,
        &red.op,
        root,
    )?;
    if let Some(r) = r.as_mut() {
        r.store();
    }
    Ok(())
}

/// Allreduce, scan and exscan share their argument handling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    All,
    Scan,
    Exscan,
}

pub unsafe fn allreduce_like(
    comm: &Comm,
    kind: Prefix,
    sbuf: *const c_void,
    rbuf: *mut c_void,
    count: c_int,
    dt: MPI_Datatype,
    opv: MPI_Op,
) -> R {
    let t = ty(dt)?;
    let red = op::reduction(opv, dt, &t)?;
    let n = cnt(count)?;
    let inplace = in_place(sbuf);
    let mut r = Region::one(rbuf, &t, n, inplace)?;
    let mut s = if inplace {
        None
    } else {
        Some(Region::one(sbuf, &t, n, true)?)
    };
    let send = s.as_mut().map(|s| &*s.bytes());
    match kind {
        Prefix::All => fmi::coll::allreduce(comm, send, r.bytes(), red.dt, &red.op)?,
        Prefix::Scan => fmi::coll::scan(comm, send, r.bytes(), red.dt, &red.op)?,
        Prefix::Exscan => match send {
            Some(s) => fmi::coll::exscan(comm, s, r.bytes(), red.dt, &red.op)?,
            // in place: the input is what the output overwrites
            None => {
                let own = r.bytes().to_vec();
                fmi::coll::exscan(comm, &own, r.bytes(), red.dt, &red.op)?
            }
        },
    }
    r.store();
    Ok(())
}

pub unsafe fn reduce_scatter_block(
    comm: &Comm,
    sbuf: *const c_void,
    rbuf: *mut c_void,
    rcount: c_int,
    dt: MPI_Datatype,
    opv: MPI_Op,
) -> R {
    let t = ty(dt)?;
    let red = op::reduction(opv, dt, &t)?;
    let n = comm.size() as usize;
    let rc = cnt(rcount)?;
    let mut s = Input::new(sbuf, rbuf, &t, rc * n)?;
    let mut r = Region::one(rbuf, &t, rc, false)?;
    fmi::coll::reduce_scatter_block(comm, Some(s.bytes()), r.bytes(), red.dt, &red.op)?;
    r.store();
    Ok(())
}

/// MPI_Reduce_scatter (a count per rank): a reduce to rank 0 keeps the op's rank
/// order, then a scatterv hands out the parts.
pub unsafe fn reduce_scatter(
    comm: &Comm,
    sbuf: *const c_void,
    rbuf: *mut c_void,
    rcounts: *const c_int,
    dt: MPI_Datatype,
    opv: MPI_Op,
) -> R {
    let t = ty(dt)?;
    let red = op::reduction(opv, dt, &t)?;
    let n = comm.size() as usize;
    let counts = array(rcounts, n, "recvcounts")?
        .iter()
        .map(|&c| cnt(c))
        .collect::<R<Vec<usize>>>()?;
    let total: usize = counts.iter().sum();
    let me = comm.rank() as usize;
    let mut s = Input::new(sbuf, rbuf, &t, total)?;
    let input = s.bytes();
    let mut full = vec![0u8; input.len()];
    fmi::coll::reduce(comm, Some(input), &mut full, red.dt, &red.op, 0)?;
    let bc: Vec<usize> = counts.iter().map(|c| c * t.size).collect();
    let bd: Vec<usize> = bc
        .iter()
        .scan(0, |a, &c| {
            let d = *a;
            *a += c;
            Some(d)
        })
        .collect();
    let mut r = Region::one(rbuf, &t, counts[me], false)?;
    fmi::coll::scatterv(comm, &full, &bc, &bd, Some(r.bytes()), 0)?;
    r.store();
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub unsafe fn gather(
    comm: &Comm,
    sbuf: *const c_void,
    scount: c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcount: c_int,
    rdt: MPI_Datatype,
    root: c_int,
    all: bool,
) -> R {
    let n = comm.size() as usize;
    let (root, me, inplace) = rooted(comm, root, all, sbuf)?;
    let (rt, rc) = if me {
        (Some(ty(rdt)?), cnt(rcount)?)
    } else {
        (None, 0)
    };
    let mut r = match &rt {
        Some(rt) => Some(Region::new(rbuf, rt, regular(n, rc), inplace)?),
        None => None,
    };
    let mut s = if inplace {
        None
    } else {
        Some(Region::one(sbuf, &ty(sdt)?, cnt(scount)?, true)?)
    };
    let block = match (&s, &rt) {
        (_, Some(rt)) => rt.bytes(rc)?,
        (Some(s), None) => s.counts[0],
        (None, None) => 0,
    };
    if let (Some(s), true) = (&s, me) {
        if s.counts[0] != block {
            return fail(
                MPI_ERR_TRUNCATE,
                format!(
                    "send block of {} bytes, receive block of {block}",
                    s.counts[0]
                ),
            );
        }
    }
    let send = s.as_mut().map(|s| &*s.bytes());
    let mut empty = [0u8; 0];
    let recv: &mut [u8] = match r.as_mut() {
        Some(r) => r.bytes(),
        None => &mut empty,
    };
    if all {
        fmi::coll::allgather(comm, send, recv, block)?;
    } else {
        fmi::coll::gather(comm, send, recv, block, root)?;
    }
    if let Some(r) = r.as_mut() {
        r.store();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub unsafe fn gatherv(
    comm: &Comm,
    sbuf: *const c_void,
    scount: c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcounts: *const c_int,
    displs: *const c_int,
    rdt: MPI_Datatype,
    root: c_int,
    all: bool,
) -> R {
    let n = comm.size() as usize;
    let (root, me, inplace) = rooted(comm, root, all, sbuf)?;
    let mut r = if me {
        Some(Region::new(
            rbuf,
            &ty(rdt)?,
            vblocks(n, rcounts, displs)?,
            inplace,
        )?)
    } else {
        None
    };
    let mut s = if inplace {
        None
    } else {
        Some(Region::one(sbuf, &ty(sdt)?, cnt(scount)?, true)?)
    };
    let send = s.as_mut().map(|s| &*s.bytes());
    match r.as_mut() {
        Some(r) => {
            let (c, d) = (r.counts.clone(), r.displs.clone());
            if all {
                fmi::coll::allgatherv(comm, send, r.bytes(), &c, &d)?;
            } else {
                fmi::coll::gatherv(comm, send, r.bytes(), &c, &d, root)?;
            }
            r.store();
        }
        None => fmi::coll::gatherv(comm, send, &mut [], &[], &[], root)?,
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub unsafe fn scatter(
    comm: &Comm,
    sbuf: *const c_void,
    scount: c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcount: c_int,
    rdt: MPI_Datatype,
    root: c_int,
) -> R {
    let n = comm.size() as usize;
    let (root, me, inplace) = rooted(comm, root, false, rbuf)?;
    let mut s = if me {
        Some(Region::new(
            sbuf,
            &ty(sdt)?,
            regular(n, cnt(scount)?),
            true,
        )?)
    } else {
        None
    };
    let mut r = if inplace {
        None
    } else {
        Some(Region::one(rbuf, &ty(rdt)?, cnt(rcount)?, false)?)
    };
    let block = match (&s, &r) {
        (Some(s), _) => s.counts.first().copied().unwrap_or(0),
        (None, Some(r)) => r.counts[0],
        (None, None) => 0,
    };
    if let (Some(r), true) = (&r, me) {
        if r.counts[0] != block {
            return fail(
                MPI_ERR_TRUNCATE,
                format!(
                    "send block of {block} bytes, receive block of {}",
                    r.counts[0]
                ),
            );
        }
    }
    let send: &[u8] = match s.as_mut() {
        Some(s) => s.bytes(),
        None => &[],
    };
    fmi::coll::scatter(comm, send, r.as_mut().map(|r| r.bytes()), block, root)?;
    if let Some(r) = r.as_mut() {
        r.store();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub unsafe fn scatterv(
    comm: &Comm,
    sbuf: *const c_void,
    scounts: *const c_int,
    displs: *const c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcount: c_int,
    rdt: MPI_Datatype,
    root: c_int,
) -> R {
    let n = comm.size() as usize;
    let (root, me, inplace) = rooted(comm, root, false, rbuf)?;
    let mut s = if me {
        Some(Region::new(
            sbuf,
            &ty(sdt)?,
            vblocks(n, scounts, displs)?,
            true,
        )?)
    } else {
        None
    };
    let mut r = if inplace {
        None
    } else {
        Some(Region::one(rbuf, &ty(rdt)?, cnt(rcount)?, false)?)
    };
    let (c, d) = match &s {
        Some(s) => (s.counts.clone(), s.displs.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let send: &[u8] = match s.as_mut() {
        Some(s) => s.bytes(),
        None => &[],
    };
    fmi::coll::scatterv(comm, send, &c, &d, r.as_mut().map(|r| r.bytes()), root)?;
    if let Some(r) = r.as_mut() {
        r.store();
    }
    Ok(())
}

pub unsafe fn alltoall(
    comm: &Comm,
    sbuf: *const c_void,
    scount: c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcount: c_int,
    rdt: MPI_Datatype,
) -> R {
    let n = comm.size() as usize;
    let rt = ty(rdt)?;
    let rc = cnt(rcount)?;
    let inplace = in_place(sbuf);
    let mut r = Region::new(rbuf, &rt, regular(n, rc), inplace)?;
    let block = rt.bytes(rc)?;
    let mut s = if inplace {
        None
    } else {
        Some(Region::new(
            sbuf,
            &ty(sdt)?,
            regular(n, cnt(scount)?),
            true,
        )?)
    };
    if let Some(s) = &s {
        if s.counts.first().copied().unwrap_or(0) != block {
            return fail(MPI_ERR_TRUNCATE, "send and receive blocks differ in size");
        }
    }
    fmi::coll::alltoall(comm, s.as_mut().map(|s| &*s.bytes()), r.bytes(), block)?;
    r.store();
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub unsafe fn alltoallv(
    comm: &Comm,
    sbuf: *const c_void,
    scounts: *const c_int,
    sdispls: *const c_int,
    sdt: MPI_Datatype,
    rbuf: *mut c_void,
    rcounts: *const c_int,
    rdispls: *const c_int,
    rdt: MPI_Datatype,
) -> R {
    let n = comm.size() as usize;
    let mut r = Region::new(
        rbuf,
        &ty(rdt)?,
        vblocks(n, rcounts, rdispls)?,
        in_place(sbuf),
    )?;
    let (rc, rd) = (r.counts.clone(), r.displs.clone());
    if in_place(sbuf) {
        // What goes out is what the receive overwrites: a copy of it.
        let out = r.bytes().to_vec();
        fmi::coll::alltoallv(comm, &out, &rc, &rd, r.bytes(), &rc, &rd)?;
    } else {
        let mut s = Region::new(sbuf, &ty(sdt)?, vblocks(n, scounts, sdispls)?, true)?;
        let (sc, sd) = (s.counts.clone(), s.displs.clone());
        fmi::coll::alltoallv(comm, s.bytes(), &sc, &sd, r.bytes(), &rc, &rd)?;
    }
    r.store();
    Ok(())
}

/// Checks that make a collective call erroneous before anything moves.
pub fn check_root(comm: &Comm, root: c_int) -> R {
    root_of(comm, root).map(|_| ())
}

pub fn check_count(c: c_int) -> R {
    nonneg(c, "count")
        .map(|_| ())
        .map_err(|f| Fail::new(MPI_ERR_COUNT, f.msg))
}

/// MPI_Alltoallw: a datatype per peer and byte displacements. Each block is
/// packed (or unpacked) with its own type around one alltoallv over bytes.
#[allow(clippy::too_many_arguments)]
pub unsafe fn alltoallw(
    comm: &Comm,
    sbuf: *const c_void,
    scounts: *const c_int,
    sdispls: *const c_int,
    stypes: *const MPI_Datatype,
    rbuf: *mut c_void,
    rcounts: *const c_int,
    rdispls: *const c_int,
    rtypes: *const MPI_Datatype,
) -> R {
    let n = comm.size() as usize;
    let inplace = in_place(sbuf);
    let recv = wblocks(n, rcounts, rdispls, rtypes)?;
    let send = if inplace {
        recv.clone()
    } else {
        wblocks(n, scounts, sdispls, stypes)?
    };
    let from = if inplace { rbuf as *const c_void } else { sbuf };
    // SAFETY: the program's buffers hold the blocks its counts, displacements and
    // types describe.
    let (sbytes, sc, sd) = unsafe { pack_w(from, &send)? };
    let rc: Vec<usize> = recv.iter().map(|(c, _, t)| c * t.size).collect();
    let rd: Vec<usize> = rc
        .iter()
        .scan(0, |a, &c| {
            let d = *a;
            *a += c;
            Some(d)
        })
        .collect();
    let mut rbytes = vec![0u8; rc.iter().sum()];
    fmi::coll::alltoallv(comm, &sbytes, &sc, &sd, &mut rbytes, &rc, &rd)?;
    for ((_, d, t), (&at, &len)) in recv.iter().zip(rd.iter().zip(&rc)) {
        // SAFETY: as above.
        unsafe { t.unpack(&rbytes[at..at + len], (rbuf as *mut u8).wrapping_offset(*d)) };
    }
    Ok(())
}

/// (count, byte displacement, type) per peer.
fn wblocks(
    n: usize,
    counts: *const c_int,
    displs: *const c_int,
    types: *const MPI_Datatype,
) -> R<Vec<(usize, isize, Arc<Type>)>> {
    let c = array(counts, n, "counts")?;
    let d = array(displs, n, "displs")?;
    let t = array(types, n, "types")?;
    c.iter()
        .zip(d)
        .zip(t)
        .map(|((&c, &d), &t)| Ok((cnt(c)?, d as isize, ty(t)?)))
        .collect()
}

unsafe fn pack_w(
    p: *const c_void,
    blocks: &[(usize, isize, Arc<Type>)],
) -> R<(Vec<u8>, Vec<usize>, Vec<usize>)> {
    let counts: Vec<usize> = blocks.iter().map(|(c, _, t)| c * t.size).collect();
    let displs: Vec<usize> = counts
        .iter()
        .scan(0, |a, &c| {
            let d = *a;
            *a += c;
            Some(d)
        })
        .collect();
    let mut out = vec![0u8; counts.iter().sum()];
    for ((c, d, t), (&at, &len)) in blocks.iter().zip(displs.iter().zip(&counts)) {
        // SAFETY: the caller guarantees the block's elements are readable.
        unsafe {
            t.pack(
                (p as *const u8).wrapping_offset(*d),
                *c,
                &mut out[at..at + len],
            )
        };
    }
    Ok((out, counts, displs))
}
