//! Groups: ordered lists of processes (world ranks) behind `MPI_Group` handles.

use crate::abi::*;
use crate::args::{array, array_mut, out, read};
use crate::errors::{fail, Fail, R};
use crate::handles::Table;
use std::ffi::c_int;
use std::sync::Arc;

static GROUPS: Table<Vec<u32>> = Table::new(0x8800_0000);

/// The processes of a group handle, in group order.
pub fn get(h: MPI_Group) -> R<Arc<Vec<u32>>> {
    if h == MPI_GROUP_EMPTY {
        return Ok(Arc::new(Vec::new()));
    }
    GROUPS
        .get(h)
        .ok_or_else(|| Fail::new(MPI_ERR_GROUP, format!("invalid group {h:#x}")))
}

pub fn register(members: Vec<u32>) -> MPI_Group {
    if members.is_empty() {
        return MPI_GROUP_EMPTY;
    }
    GROUPS.insert(members)
}

fn my_world_rank() -> R<u32> {
    let w = crate::comm::get(MPI_COMM_WORLD)?;
    Ok(w.comm.rank())
}

/// Ranks of a group given as an array of `n` group ranks, each checked.
fn ranks(g: &[u32], n: c_int, p: *const c_int) -> R<Vec<usize>> {
    let n = usize::try_from(n).map_err(|_| Fail::new(MPI_ERR_ARG, "n is negative"))?;
    let r = array(p, n, "ranks")?;
    let mut seen = vec![false; g.len()];
    r.iter()
        .map(|&x| match usize::try_from(x) {
            Ok(i) if i < g.len() && !std::mem::replace(&mut seen[i], true) => Ok(i),
            _ => fail(
                MPI_ERR_RANK,
                format!("rank {x} is out of range or repeated"),
            ),
        })
        .collect()
}

/// Ranks of `(first, last, stride)` triplets, each checked (MPI_Group_range_*).
fn range_ranks(g: &[u32], n: c_int, p: *const [c_int; 3]) -> R<Vec<usize>> {
    let n = usize::try_from(n).map_err(|_| Fail::new(MPI_ERR_ARG, "n is negative"))?;
    let mut list = Vec::new();
    for &[first, last, stride] in array(p, n, "ranges")? {
        if stride == 0 {
            return fail(MPI_ERR_ARG, "a range has stride 0");
        }
        let mut r = first;
        while (stride > 0 && r <= last) || (stride < 0 && r >= last) {
            list.push(r);
            r += stride;
        }
    }
    let flat = list;
    ranks(g, flat.len() as c_int, flat.as_ptr())
}

mpi! {
    fn MPI_Group_size / PMPI_Group_size(g: MPI_Group, size: *mut c_int) {
        out(size, get(g)?.len() as c_int, "size")
    }

    fn MPI_Group_rank / PMPI_Group_rank(g: MPI_Group, rank: *mut c_int) {
        let me = my_world_rank()?;
        let r = get(g)?.iter().position(|&w| w == me).map_or(MPI_UNDEFINED, |p| p as c_int);
        out(rank, r, "rank")
    }

    fn MPI_Group_incl / PMPI_Group_incl(g: MPI_Group, n: c_int, rs: *const c_int, newgroup: *mut MPI_Group) {
        let m = get(g)?;
        let sel = ranks(&m, n, rs)?;
        out(newgroup, register(sel.iter().map(|&i| m[i]).collect()), "newgroup")
    }

    fn MPI_Group_excl / PMPI_Group_excl(g: MPI_Group, n: c_int, rs: *const c_int, newgroup: *mut MPI_Group) {
        let m = get(g)?;
        let sel = ranks(&m, n, rs)?;
        let keep = m.iter().enumerate().filter(|(i, _)| !sel.contains(i)).map(|(_, &w)| w).collect();
        out(newgroup, register(keep), "newgroup")
    }

    fn MPI_Group_range_incl / PMPI_Group_range_incl(g: MPI_Group, n: c_int, ranges: *const [c_int; 3], newgroup: *mut MPI_Group) {
        let m = get(g)?;
        let sel = range_ranks(&m, n, ranges)?;
        out(newgroup, register(sel.iter().map(|&i| m[i]).collect()), "newgroup")
    }

    fn MPI_Group_range_excl / PMPI_Group_range_excl(g: MPI_Group, n: c_int, ranges: *const [c_int; 3], newgroup: *mut MPI_Group) {
        let m = get(g)?;
        let sel = range_ranks(&m, n, ranges)?;
        let keep = m.iter().enumerate().filter(|(i, _)| !sel.contains(i)).map(|(_, &w)| w).collect();
        out(newgroup, register(keep), "newgroup")
    }

    fn MPI_Group_union / PMPI_Group_union(a: MPI_Group, b: MPI_Group, newgroup: *mut MPI_Group) {
        let (x, y) = (get(a)?, get(b)?);
        let mut u = (*x).clone();
        u.extend(y.iter().filter(|w| !x.contains(w)));
        out(newgroup, register(u), "newgroup")
    }

    fn MPI_Group_intersection / PMPI_Group_intersection(a: MPI_Group, b: MPI_Group, newgroup: *mut MPI_Group) {
        let (x, y) = (get(a)?, get(b)?);
        out(newgroup, register(x.iter().copied().filter(|w| y.contains(w)).collect()), "newgroup")
    }

    fn MPI_Group_difference / PMPI_Group_difference(a: MPI_Group, b: MPI_Group, newgroup: *mut MPI_Group) {
        let (x, y) = (get(a)?, get(b)?);
        out(newgroup, register(x.iter().copied().filter(|w| !y.contains(w)).collect()), "newgroup")
    }

    fn MPI_Group_translate_ranks / PMPI_Group_translate_ranks(a: MPI_Group, n: c_int, r1: *const c_int, b: MPI_Group, r2: *mut c_int) {
        let (x, y) = (get(a)?, get(b)?);
        let n = usize::try_from(n).map_err(|_| Fail::new(MPI_ERR_ARG, "n is negative"))?;
        let src = array(r1, n, "ranks1")?;
        let dst = array_mut(r2, n, "ranks2")?;
        for (d, &r) in dst.iter_mut().zip(src) {
            *d = if r == MPI_PROC_NULL {
                MPI_PROC_NULL
            } else {
                let w = usize::try_from(r).ok().and_then(|i| x.get(i)).ok_or_else(|| {
                    Fail::new(MPI_ERR_RANK, format!("rank {r} is not in the first group"))
                })?;
                y.iter().position(|v| v == w).map_or(MPI_UNDEFINED, |p| p as c_int)
            };
        }
        Ok(())
    }

    fn MPI_Group_compare / PMPI_Group_compare(a: MPI_Group, b: MPI_Group, result: *mut c_int) {
        let (x, y) = (get(a)?, get(b)?);
        let r = if x == y {
            MPI_IDENT
        } else {
            let (mut sx, mut sy) = ((*x).clone(), (*y).clone());
            sx.sort_unstable();
            sy.sort_unstable();
            if sx == sy { MPI_SIMILAR } else { MPI_UNEQUAL }
        };
        out(result, r, "result")
    }

    fn MPI_Group_free / PMPI_Group_free(g: *mut MPI_Group) {
        let h = read(g, "group")?;
        if h != MPI_GROUP_EMPTY {
            GROUPS.remove(h).ok_or_else(|| Fail::new(MPI_ERR_GROUP, format!("invalid group {h:#x}")))?;
        }
        out(g, MPI_GROUP_NULL, "group")
    }
}
