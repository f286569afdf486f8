//! Channels move bytes between ranks. They know nothing about matching: the engine
//! tells them what to send and where arriving payloads go.

pub mod direct;
pub mod redis;
pub mod s3;
pub mod store;

/// A caller's buffer handed to the engine for zero-copy I/O.
///
/// The engine reads from or writes into it until the operation that owns it completes
/// or is cancelled; whoever constructs one promises the memory stays valid, and is
/// not otherwise accessed, for that long.
#[derive(Debug, Clone, Copy)]
pub struct RawBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a RawBuf is only a promise about memory (see `new`); the engine that holds
// it serialises every access under its lock.
unsafe impl Send for RawBuf {}

impl RawBuf {
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes (reads only, for a send
    /// buffer) until the request owning this buffer completes or is cancelled, and
    /// nobody else may write it meanwhile. `ptr` may be dangling when `len` is 0.
    pub unsafe fn new(ptr: *mut u8, len: usize) -> RawBuf {
        RawBuf { ptr, len }
    }

    /// An empty buffer.
    pub fn empty() -> RawBuf {
        RawBuf {
            ptr: std::ptr::NonNull::dangling().as_ptr(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `n` bytes (all of them if `n` is larger).
    pub fn prefix(&self, n: usize) -> RawBuf {
        RawBuf {
            ptr: self.ptr,
            len: n.min(self.len),
        }
    }

    /// Copies `src` into the buffer at `off`. Panics if out of range (a bug).
    pub fn write_at(&self, off: usize, src: &[u8]) {
        assert!(off.checked_add(src.len()).is_some_and(|e| e <= self.len));
        if src.is_empty() {
            return;
        }
        // SAFETY: in range (checked above); validity and exclusivity per `new`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(off), src.len()) }
    }

    /// The bytes `off..off+n` for writing (zero-copy reads from a socket).
    #[allow(clippy::mut_from_ref)]
    pub fn slice_mut(&self, off: usize, n: usize) -> &mut [u8] {
        assert!(off.checked_add(n).is_some_and(|e| e <= self.len));
        if n == 0 {
            return &mut [];
        }
        // SAFETY: in range; validity and exclusivity per `new`; the slice lives only
        // for one read call under the engine lock.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), n) }
    }

    /// The bytes `off..off+n` for reading (zero-copy writes to a socket).
    pub fn slice(&self, off: usize, n: usize) -> &[u8] {
        assert!(off.checked_add(n).is_some_and(|e| e <= self.len));
        if n == 0 {
            return &[];
        }
        // SAFETY: in range; validity per `new`.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), n) }
    }
}

/// Opens the mediated channel `kind` of `cfg` as rank `rank` of `job`.
pub fn open_store(
    kind: store::ChannelKind,
    cfg: &crate::config::Config,
    job: &str,
    rank: u32,
) -> crate::Result<std::sync::Arc<dyn store::Store>> {
    use store::ChannelKind;
    let not_configured = |how: &str| {
        crate::Error::config(format!(
            "the {} channel is not configured ({how})",
            kind.name()
        ))
    };
    match kind {
        ChannelKind::Redis => {
            let c = cfg
                .redis
                .as_ref()
                .ok_or_else(|| not_configured("set FMI_REDIS_URL or backends.Redis"))?;
            Ok(std::sync::Arc::new(redis::RedisStore::connect(
                c, job, rank,
            )?))
        }
        ChannelKind::S3 => {
            let c = cfg.s3.as_ref().ok_or_else(|| {
                not_configured("set FMI_S3_BUCKET (and FMI_S3_ENDPOINT) or backends.S3")
            })?;
            Ok(std::sync::Arc::new(s3::S3Store::connect(c, job, rank)?))
        }
        ChannelKind::Direct => Err(crate::Error::arg("the direct channel is not a store")),
    }
}
