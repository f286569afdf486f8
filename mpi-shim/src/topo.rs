//! Cartesian topologies (MPI_Cart_*, MPI_Dims_create) and MPI_Comm_split_type.
//! A Cartesian communicator is an ordinary one with its grid attached; ranks are
//! laid out row-major (the last dimension varies fastest) and never reordered.

use crate::abi::*;
use crate::args::{array, array_mut, out};
use crate::comm::{self, CommObj};
use crate::errors::{fail, Fail, R};
use std::ffi::c_int;

/// The grid of a Cartesian communicator.
#[derive(Debug, Clone)]
pub struct Cart {
    pub dims: Vec<c_int>,
    pub periods: Vec<bool>,
}

impl Cart {
    fn coords(&self, mut rank: c_int) -> Vec<c_int> {
        let mut c = vec![0; self.dims.len()];
        for (i, d) in self.dims.iter().enumerate().rev() {
            c[i] = rank % d;
            rank /= d;
        }
        c
    }

    /// The rank at `coords`, wrapping periodic dimensions; None off the grid.
    fn rank(&self, coords: &[c_int]) -> Option<c_int> {
        let mut r = 0;
        for ((&c, &d), &p) in coords.iter().zip(&self.dims).zip(&self.periods) {
            let c = if p { c.rem_euclid(d) } else { c };
            if !(0..d).contains(&c) {
                return None;
            }
            r = r * d + c;
        }
        Some(r)
    }
}

const MPI_CART: c_int = 2;

fn cart_of(h: MPI_Comm) -> R<(std::sync::Arc<CommObj>, Cart)> {
    let c = comm::get(h)?;
    let cart = c.cart.lock().clone();
    match cart {
        Some(g) => Ok((c, g)),
        None => Err(Fail::new(
            MPI_ERR_TOPOLOGY,
            "the communicator has no Cartesian topology",
        )
        .on(h)),
    }
}

/// The factorisation MPI_Dims_create makes: the free dimensions as close to each
/// other as possible, in non-increasing order.
fn dims_create(n: c_int, dims: &mut [c_int]) -> R {
    let fixed: i64 = dims.iter().filter(|&&d| d > 0).map(|&d| d as i64).product();
    if dims.iter().any(|&d| d < 0) {
        return fail(MPI_ERR_DIMS, "a dimension is negative");
    }
    if fixed == 0 || n as i64 % fixed != 0 {
        return fail(
            MPI_ERR_DIMS,
            format!("{n} nodes do not divide among the fixed dimensions"),
        );
    }
    let free: Vec<usize> = (0..dims.len()).filter(|&i| dims[i] == 0).collect();
    if free.is_empty() {
        return if fixed == n as i64 {
            Ok(())
        } else {
            fail(
                MPI_ERR_DIMS,
                "the dimensions do not multiply to the node count",
            )
        };
    }
    let mut rest = (n as i64 / fixed) as c_int;
    let mut primes = Vec::new();
    let mut p = 2;
    while rest > 1 {
        while rest % p == 0 {
            primes.push(p);
            rest /= p;
        }
        p += 1;
    }
    let mut vals = vec![1; free.len()];
    for q in primes.into_iter().rev() {
        if let Some(m) = vals.iter_mut().min() {
            *m *= q;
        }
    }
    vals.sort_unstable_by(|a, b| b.cmp(a));
    for (i, v) in free.into_iter().zip(vals) {
        dims[i] = v;
    }
    Ok(())
}

fn ndims_of(n: c_int) -> R<usize> {
    usize::try_from(n).map_err(|_| Fail::new(MPI_ERR_DIMS, format!("{n} dimensions")))
}

mpi! {
    fn MPI_Dims_create / PMPI_Dims_create(nnodes: c_int, ndims: c_int, dims: *mut c_int) {
        let n = ndims_of(ndims)?;
        dims_create(nnodes, array_mut(dims, n, "dims")?)
    }

    fn MPI_Cart_create / PMPI_Cart_create(old: MPI_Comm, ndims: c_int, dims: *const c_int, periods: *const c_int, _reorder: c_int, newcomm: *mut MPI_Comm) {
        let c = comm::get(old)?;
        let n = ndims_of(ndims).map_err(|f| f.on(old))?;
        let dims = array(dims, n, "dims")?.to_vec();
        let periods: Vec<bool> = array(periods, n, "periods")?.iter().map(|&p| p != 0).collect();
        let total: i64 = dims.iter().map(|&d| d as i64).product();
        if dims.iter().any(|&d| d <= 0) || total > c.size() as i64 {
            return Err(Fail::new(MPI_ERR_DIMS, format!("a {dims:?} grid does not fit {} processes", c.size())).on(old));
        }
        let r = c.rank();
        let color = if (r as i64) < total { 0 } else { -1 };
        let s = c.comm.split(color, r).map_err(|e| Fail::from(e).on(old))?;
        let h = match s {
            None => MPI_COMM_NULL,
            Some(s) => {
                let h = comm::register(s, &c);
                if let Some(n) = comm::COMMS.get(h) {
                    *n.cart.lock() = Some(Cart { dims, periods });
                }
                h
            }
        };
        out(newcomm, h, "comm_cart")
    }

    fn MPI_Topo_test / PMPI_Topo_test(h: MPI_Comm, status: *mut c_int) {
        let c = comm::get(h)?;
        let t = if c.cart.lock().is_some() { MPI_CART } else { MPI_UNDEFINED };
        out(status, t, "status")
    }

    fn MPI_Cartdim_get / PMPI_Cartdim_get(h: MPI_Comm, ndims: *mut c_int) {
        let (_, g) = cart_of(h)?;
        out(ndims, g.dims.len() as c_int, "ndims")
    }

    fn MPI_Cart_get / PMPI_Cart_get(h: MPI_Comm, maxdims: c_int, dims: *mut c_int, periods: *mut c_int, coords: *mut c_int) {
        let (c, g) = cart_of(h)?;
        let n = ndims_of(maxdims)?.min(g.dims.len());
        let me = g.coords(c.rank());
        array_mut(dims, n, "dims")?.copy_from_slice(&g.dims[..n]);
        for (o, &p) in array_mut(periods, n, "periods")?.iter_mut().zip(&g.periods) {
            *o = p as c_int;
        }
        array_mut(coords, n, "coords")?.copy_from_slice(&me[..n]);
        Ok(())
    }

    fn MPI_Cart_coords / PMPI_Cart_coords(h: MPI_Comm, rank: c_int, maxdims: c_int, coords: *mut c_int) {
        let (c, g) = cart_of(h)?;
        if rank < 0 || rank >= c.size() {
            return Err(Fail::new(MPI_ERR_RANK, format!("rank {rank} is out of range")).on(h));
        }
        let n = ndims_of(maxdims)?.min(g.dims.len());
        array_mut(coords, n, "coords")?.copy_from_slice(&g.coords(rank)[..n]);
        Ok(())
    }

    fn MPI_Cart_rank / PMPI_Cart_rank(h: MPI_Comm, coords: *const c_int, rank: *mut c_int) {
        let (_, g) = cart_of(h)?;
        let c = array(coords, g.dims.len(), "coords")?;
        let r = g.rank(c).ok_or_else(|| Fail::new(MPI_ERR_ARG, format!("coordinates {c:?} are off the grid")).on(h))?;
        out(rank, r, "rank")
    }

    fn MPI_Cart_shift / PMPI_Cart_shift(h: MPI_Comm, direction: c_int, disp: c_int, source: *mut c_int, dest: *mut c_int) {
        let (c, g) = cart_of(h)?;
        let d = usize::try_from(direction).ok().filter(|&d| d < g.dims.len())
            .ok_or_else(|| Fail::new(MPI_ERR_ARG, format!("direction {direction} is out of range")).on(h))?;
        let me = g.coords(c.rank());
        let at = |delta: c_int| {
            let mut x = me.clone();
            x[d] += delta;
            g.rank(&x).unwrap_or(MPI_PROC_NULL)
        };
        out(source, at(-disp), "rank_source")?;
        out(dest, at(disp), "rank_dest")
    }

    fn MPI_Cart_sub / PMPI_Cart_sub(h: MPI_Comm, remain: *const c_int, newcomm: *mut MPI_Comm) {
        let (c, g) = cart_of(h)?;
        let keep: Vec<bool> = array(remain, g.dims.len(), "remain_dims")?.iter().map(|&k| k != 0).collect();
        let me = g.coords(c.rank());
        // Ranks that agree on the dropped coordinates form one sub-grid, ordered by
        // the kept ones.
        let (mut color, mut key) = (0, 0);
        for ((&x, &d), &k) in me.iter().zip(&g.dims).zip(&keep) {
            if k { key = key * d + x } else { color = color * d + x }
        }
        let s = c.comm.split(color, key).map_err(|e| Fail::from(e).on(h))?;
        let sub = Cart {
            dims: g.dims.iter().zip(&keep).filter(|(_, &k)| k).map(|(&d, _)| d).collect(),
            periods: g.periods.iter().zip(&keep).filter(|(_, &k)| k).map(|(&p, _)| p).collect(),
        };
        let nh = match s {
            None => MPI_COMM_NULL,
            Some(s) => {
                let nh = comm::register(s, &c);
                if let Some(n) = comm::COMMS.get(nh) {
                    *n.cart.lock() = Some(sub);
                }
                nh
            }
        };
        out(newcomm, nh, "newcomm")
    }

    fn MPI_Comm_split_type / PMPI_Comm_split_type(h: MPI_Comm, split_type: c_int, key: c_int, _info: MPI_Info, newcomm: *mut MPI_Comm) {
        let c = comm::get(h)?;
        // Every kind of locality (shared memory, hardware) is the host here.
        let color = if split_type == MPI_UNDEFINED { -1 } else { host_color() };
        let s = c.comm.split(color, key).map_err(|e| Fail::from(e).on(h))?;
        out(newcomm, s.map_or(MPI_COMM_NULL, |s| comm::register(s, &c)), "newcomm")
    }
}

/// A colour shared by the processes of one host: a hash of the host name.
fn host_color() -> c_int {
    let mut h: u32 = 0x811c_9dc5;
    for b in fmi::bootstrap::hostname().bytes() {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    (h & 0x7fff_ffff) as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims_are_balanced_and_non_increasing() {
        let mut d = [0, 0];
        dims_create(12, &mut d).unwrap();
        assert_eq!(d, [4, 3]);
        let mut d = [0, 0, 0];
        dims_create(12, &mut d).unwrap();
        assert_eq!(d, [3, 2, 2]);
        let mut d = [0, 3];
        dims_create(24, &mut d).unwrap();
        assert_eq!(d, [8, 3]);
        assert!(dims_create(10, &mut [0, 3]).is_err());
    }

    #[test]
    fn coordinates_round_trip_and_wrap() {
        let g = Cart {
            dims: vec![2, 3],
            periods: vec![true, false],
        };
        for r in 0..6 {
            assert_eq!(g.rank(&g.coords(r)), Some(r));
        }
        assert_eq!(g.coords(4), vec![1, 1]);
        assert_eq!(g.rank(&[-1, 2]), Some(5));
        assert_eq!(g.rank(&[0, 3]), None);
    }
}
