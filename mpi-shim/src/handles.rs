//! Tables behind integer handles: a handle is a fixed prefix plus a slot index, so
//! a stale or foreign value is caught (wrong prefix, empty slot) rather than
//! dereferenced. Slots are reused after a free, as MPI implementations do.

use parking_lot::RwLock;
use std::ffi::c_int;
use std::sync::Arc;

/// Objects of one kind, shared behind `Arc` so a lookup does not hold the lock.
pub struct Table<T> {
    prefix: u32,
    slots: RwLock<Vec<Option<Arc<T>>>>,
}

const INDEX_BITS: u32 = 0x03ff_ffff;

impl<T> Table<T> {
    /// A table whose handles are `prefix | index` (`prefix` has the low 26 bits clear).
    pub const fn new(prefix: u32) -> Table<T> {
        Table {
            prefix,
            slots: RwLock::new(Vec::new()),
        }
    }

    fn index(&self, h: c_int) -> Option<usize> {
        let h = h as u32;
        (h & !INDEX_BITS == self.prefix).then_some((h & INDEX_BITS) as usize)
    }

    pub fn get(&self, h: c_int) -> Option<Arc<T>> {
        let i = self.index(h)?;
        self.slots.read().get(i).cloned().flatten()
    }

    /// Stores `v` at a free slot; returns its handle.
    pub fn insert(&self, v: T) -> c_int {
        self.insert_arc(Arc::new(v))
    }

    pub fn insert_arc(&self, v: Arc<T>) -> c_int {
        let mut s = self.slots.write();
        let i = match s.iter().position(|x| x.is_none()) {
            Some(i) => {
                s[i] = Some(v);
                i
            }
            None => {
                s.push(Some(v));
                s.len() - 1
            }
        };
        (self.prefix | i as u32) as c_int
    }

    /// Stores `v` at the slot of handle `h` (for predefined objects).
    pub fn put(&self, h: c_int, v: Arc<T>) {
        let Some(i) = self.index(h) else { return };
        let mut s = self.slots.write();
        if s.len() <= i {
            s.resize(i + 1, None);
        }
        s[i] = Some(v);
    }

    pub fn remove(&self, h: c_int) -> Option<Arc<T>> {
        let i = self.index(h)?;
        self.slots.write().get_mut(i).and_then(|x| x.take())
    }

    /// Empties the table (at finalize); returns what it held.
    pub fn drain(&self) -> Vec<Arc<T>> {
        self.slots.write().drain(..).flatten().collect()
    }
}
