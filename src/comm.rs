//! Communicators: a group of ranks of one world and a context id that keeps their
//! traffic apart from every other communicator's. Point-to-point traffic uses context
//! `2*id`, collectives `2*id + 1`, so user tags never meet collective messages.

use crate::bootstrap;
use crate::channel::store::{ChannelKind, Store};
use crate::channel::RawBuf;
use crate::config::Config;
use crate::engine::{self, matching::ANY, ReqId, World};
use crate::error::{Error, Result};
use crate::group::Group;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;

/// Wildcard source or tag of a receive or probe.
pub const ANY_SOURCE: i32 = ANY;
/// Wildcard tag.
pub const ANY_TAG: i32 = ANY;
/// Largest user tag.
pub const TAG_UB: i32 = i32::MAX;

/// Hint: prefer the fastest channel.
pub const HINT_FAST: i32 = 0;
/// Hint: prefer the cheapest channel.
pub const HINT_CHEAP: i32 = 1;

/// Completion of a receive or probe, with the source as a communicator rank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub source: i32,
    pub tag: i32,
    pub bytes: usize,
    pub error: Option<Error>,
}

/// Communicators alive per world; the world shuts down with the last.
struct Live {
    world: Arc<World>,
    comms: AtomicUsize,
}

/// A communicator.
pub struct Comm {
    live: Arc<Live>,
    ctx_id: u32,
    rank: u32,
    group: Arc<Group>,
    hint: AtomicI32,
    staged: Mutex<Staged>,
}

/// Collectives of a communicator through mediated channels (see `coll::storage`).
#[derive(Default)]
struct Staged {
    /// Sequence number of the next one.
    next: u64,
    /// Keys this rank wrote, with their operation's sequence number, not deleted yet.
    mine: Vec<(u64, String)>,
}

/// A pending non-blocking operation.
pub struct Request {
    world: Arc<World>,
    id: ReqId,
    group: Arc<Group>,
}

fn translate(group: &Group, s: engine::Status) -> Status {
    Status {
        source: group.comm_rank(s.source).map_or(-1, |r| r as i32),
        tag: s.tag,
        bytes: s.bytes,
        error: s.error,
    }
}

/// Turns a status that carries an error into that error.
pub fn status_result(s: Status) -> Result<Status> {
    match &s.error {
        Some(e) => Err(e.clone()),
        None => Ok(s),
    }
}

impl Request {
    /// Waits for completion. The operation's own error is in the status.
    pub fn wait(self) -> Result<Status> {
        let s = self.world.wait(self.id)?;
        Ok(translate(&self.group, s))
    }

    /// Cancels a receive that no message has matched yet: `Ok(())` when it is
    /// cancelled (and gone), `Err(self)` when a message matched it first.
    pub fn cancel_unmatched(self) -> std::result::Result<(), Request> {
        if self.world.cancel_unmatched(self.id) {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Completion check: `Ok(Err(self))` while pending.
    pub fn test(self) -> Result<std::result::Result<Status, Request>> {
        match self.world.test(self.id)? {
            Some(s) => Ok(Ok(translate(&self.group, s))),
            None => Ok(Err(self)),
        }
    }
}

fn check_tag(tag: i32) -> Result<()> {
    if tag < 0 {
        return Err(Error::arg(format!(
            "tag {tag} is negative (user tags are 0..={TAG_UB})"
        )));
    }
    Ok(())
}

impl Comm {
    /// Joins a world as `rank` of `size`. `name` defaults to `FMI_JOB`; `config` is an
    /// optional JSON file (the original FMI's shape); the environment overrides it.
    pub fn create(rank: i32, size: i32, name: Option<&str>, config: Option<&str>) -> Result<Comm> {
        if size < 1 || rank < 0 || rank >= size {
            return Err(Error::arg(format!(
                "rank {rank} and size {size}: need 0 <= rank < size"
            )));
        }
        let cfg = Config::load(config)?;
        let job = match name {
            Some(n) => n.to_string(),
            None => std::env::var("FMI_JOB")
                .ok()
                .filter(|j| !j.is_empty())
                .ok_or_else(|| Error::arg("no communicator name: pass comm_name or set FMI_JOB"))?,
        };
        Self::join(rank as u32, size as u32, &job, cfg)
    }

    /// Joins the world the launcher describes (see `bootstrap`).
    pub fn from_env() -> Result<Comm> {
        let cfg = Config::load(None)?;
        match bootstrap::launch()? {
            bootstrap::Launch::Named(id) => Self::join(id.rank, id.size, &id.job, cfg),
            bootstrap::Launch::Pmi(p) => Ok(Self::of_world(bootstrap::join_pmi(p, cfg)?)),
        }
    }

    /// Joins a world with an explicit configuration (for Rust callers and tests).
    pub fn join(rank: u32, size: u32, job: &str, cfg: Config) -> Result<Comm> {
        Ok(Self::of_world(World::join(rank, size, job, cfg)?))
    }

    /// The world communicator of a world just joined.
    fn of_world(world: Arc<World>) -> Comm {
        let (rank, size, hint) = (world.rank, world.size, world.cfg.hint);
        Comm {
            live: Arc::new(Live {
                world,
                comms: AtomicUsize::new(1),
            }),
            ctx_id: engine::WORLD_CTX,
            rank,
            hint: AtomicI32::new(hint),
            group: Arc::new(Group::world(size)),
            staged: Mutex::default(),
        }
    }

    pub fn rank(&self) -> u32 {
        self.rank
    }

    pub fn size(&self) -> u32 {
        self.group.size()
    }

    pub fn world(&self) -> &Arc<World> {
        &self.live.world
    }

    pub fn group(&self) -> &Arc<Group> {
        &self.group
    }

    fn p2p_ctx(&self) -> u32 {
        engine::contexts(self.ctx_id).0
    }

    fn coll_ctx(&self) -> u32 {
        engine::contexts(self.ctx_id).1
    }

    /// World rank of a destination rank, checked.
    fn dest(&self, r: i32) -> Result<u32> {
        if r < 0 || r as u32 >= self.size() {
            return Err(Error::arg(format!(
                "rank {r} is out of range (the communicator has {} ranks)",
                self.size()
            )));
        }
        Ok(self.group.world_rank(r as u32))
    }

    /// World rank of a source rank or the wildcard, checked.
    fn source(&self, r: i32) -> Result<i32> {
        if r == ANY_SOURCE {
            return Ok(ANY);
        }
        self.dest(r).map(|w| w as i32)
    }

    fn recv_tag(tag: i32) -> Result<i32> {
        if tag == ANY_TAG {
            return Ok(ANY);
        }
        check_tag(tag).map(|_| tag)
    }

    pub fn set_hint(&self, hint: i32) -> Result<()> {
        if hint != HINT_FAST && hint != HINT_CHEAP {
            return Err(Error::arg(format!("unknown hint {hint}")));
        }
        self.hint.store(hint, Ordering::Relaxed);
        Ok(())
    }

    pub fn hint(&self) -> i32 {
        self.hint.load(Ordering::Relaxed)
    }

    pub fn send(&self, data: &[u8], dest: i32, tag: i32) -> Result<()> {
        check_tag(tag)?;
        self.live
            .world
            .send(self.p2p_ctx(), self.dest(dest)?, tag, data, &self.group)
    }

    /// Blocking receive. Truncation and peer loss come back as errors.
    pub fn recv(&self, buf: &mut [u8], src: i32, tag: i32) -> Result<Status> {
        self.recv_status(buf, src, tag).and_then(status_result)
    }

    /// Blocking receive that reports the operation's own error (truncation, peer
    /// loss) in the status, as the C API does; `Err` only for bad arguments.
    pub fn recv_status(&self, buf: &mut [u8], src: i32, tag: i32) -> Result<Status> {
        let s = self.live.world.recv(
            self.p2p_ctx(),
            self.source(src)?,
            Self::recv_tag(tag)?,
            buf,
            &self.group,
        )?;
        Ok(translate(&self.group, s))
    }

    /// # Safety
    /// `buf` must stay valid and unmodified until the request completes.
    pub unsafe fn isend(&self, buf: RawBuf, dest: i32, tag: i32) -> Result<Request> {
        check_tag(tag)?;
        let id = self
            .live
            .world
            .isend(self.p2p_ctx(), self.dest(dest)?, tag, buf, &self.group)?;
        Ok(self.request(id))
    }

    /// # Safety
    /// `buf` must stay valid and otherwise untouched until the request completes.
    pub unsafe fn irecv(&self, buf: RawBuf, src: i32, tag: i32) -> Result<Request> {
        let id = self.live.world.irecv(
            self.p2p_ctx(),
            self.source(src)?,
            Self::recv_tag(tag)?,
            buf,
            &self.group,
        )?;
        Ok(self.request(id))
    }

    fn request(&self, id: ReqId) -> Request {
        Request {
            world: self.live.world.clone(),
            id,
            group: self.group.clone(),
        }
    }

    pub fn sendrecv(
        &self,
        data: &[u8],
        dest: i32,
        stag: i32,
        buf: &mut [u8],
        src: i32,
        rtag: i32,
    ) -> Result<Status> {
        self.sendrecv_status(data, dest, stag, buf, src, rtag)
            .and_then(status_result)
    }

    /// `sendrecv` with the receive's own error in the status (see `recv_status`).
    pub fn sendrecv_status(
        &self,
        data: &[u8],
        dest: i32,
        stag: i32,
        buf: &mut [u8],
        src: i32,
        rtag: i32,
    ) -> Result<Status> {
        check_tag(stag)?;
        let s = self.live.world.sendrecv(
            self.p2p_ctx(),
            self.dest(dest)?,
            stag,
            data,
            self.source(src)?,
            Self::recv_tag(rtag)?,
            buf,
            &self.group,
        )?;
        Ok(translate(&self.group, s))
    }

    /// Blocking (`block`) or non-blocking probe.
    pub fn probe(&self, src: i32, tag: i32, block: bool) -> Result<Option<Status>> {
        let s = self.live.world.probe(
            self.p2p_ctx(),
            self.source(src)?,
            Self::recv_tag(tag)?,
            &self.group,
            block,
        )?;
        Ok(s.map(|s| translate(&self.group, s)))
    }

    /// Matched probe (MPI_Mprobe/Improbe): the message leaves matching; only
    /// [`imrecv`](Self::imrecv) receives it.
    pub fn mprobe(
        &self,
        src: i32,
        tag: i32,
        block: bool,
    ) -> Result<Option<(Status, engine::Message)>> {
        let s = self.live.world.mprobe(
            self.p2p_ctx(),
            self.source(src)?,
            Self::recv_tag(tag)?,
            &self.group,
            block,
        )?;
        Ok(s.map(|(s, m)| (translate(&self.group, s), m)))
    }

    /// Receives a message taken by [`mprobe`](Self::mprobe).
    ///
    /// # Safety
    /// `buf` must stay valid and otherwise untouched until the request completes.
    pub unsafe fn imrecv(&self, m: engine::Message, buf: RawBuf) -> Request {
        let id = self.live.world.imrecv(m, buf, &self.group);
        self.request(id)
    }

    // Point to point on the collective context, for `coll`.

    pub(crate) fn coll_send(&self, data: &[u8], dest: u32, tag: i32) -> Result<()> {
        self.live.world.send(
            self.coll_ctx(),
            self.group.world_rank(dest),
            tag,
            data,
            &self.group,
        )
    }

    pub(crate) fn coll_recv(&self, buf: &mut [u8], src: u32, tag: i32) -> Result<usize> {
        let s = self.live.world.recv(
            self.coll_ctx(),
            self.group.world_rank(src) as i32,
            tag,
            buf,
            &self.group,
        )?;
        engine::status_result(s).map(|s| s.bytes)
    }

    pub(crate) fn coll_sendrecv(
        &self,
        data: &[u8],
        dest: u32,
        buf: &mut [u8],
        src: u32,
        tag: i32,
    ) -> Result<usize> {
        let s = self.live.world.sendrecv(
            self.coll_ctx(),
            self.group.world_rank(dest),
            tag,
            data,
            self.group.world_rank(src) as i32,
            tag,
            buf,
            &self.group,
        )?;
        engine::status_result(s).map(|s| s.bytes)
    }

    /// Non-blocking send on the collective context.
    ///
    /// # Safety
    /// `buf` must stay valid and unmodified until the request completes.
    pub(crate) unsafe fn coll_isend(&self, buf: RawBuf, dest: u32, tag: i32) -> Result<Request> {
        let id = self.live.world.isend(
            self.coll_ctx(),
            self.group.world_rank(dest),
            tag,
            buf,
            &self.group,
        )?;
        Ok(self.request(id))
    }

    /// Non-blocking receive on the collective context.
    ///
    /// # Safety
    /// `buf` must stay valid and otherwise untouched until the request completes.
    pub(crate) unsafe fn coll_irecv(&self, buf: RawBuf, src: u32, tag: i32) -> Result<Request> {
        let id = self.live.world.irecv(
            self.coll_ctx(),
            self.group.world_rank(src) as i32,
            tag,
            buf,
            &self.group,
        )?;
        Ok(self.request(id))
    }

    /// Context id agreed by all members: the largest next-free id among them.
    fn agree_ctx(&self, proposals: impl Iterator<Item = u32>) -> u32 {
        let agreed = proposals.max().unwrap_or(1);
        let mut next = self.live.world.ctx_counter();
        // `agreed + 1` is the twin's (see `twin`).
        *next = (*next).max(agreed + 2);
        agreed
    }

    fn child(&self, ctx_id: u32, group: Group) -> Comm {
        self.live.comms.fetch_add(1, Ordering::AcqRel);
        let me = self.live.world.rank;
        Comm {
            live: self.live.clone(),
            ctx_id,
            rank: group.comm_rank(me).unwrap_or(0),
            group: Arc::new(group),
            hint: AtomicI32::new(self.hint()),
            staged: Mutex::default(),
        }
    }

    /// A communicator with the same members and its own traffic.
    pub fn dup(&self) -> Result<Comm> {
        let mine = *self.live.world.ctx_counter();
        let all = crate::coll::allgather::allgather_u32s(self, &[mine])?;
        let ctx = self.agree_ctx(all.into_iter());
        Ok(self.child(ctx, (*self.group).clone()))
    }

    /// MPI_Comm_split: members with the same `color` form a communicator, ordered by
    /// `key` and then by rank here. A negative color gets no communicator.
    pub fn split(&self, color: i32, key: i32) -> Result<Option<Comm>> {
        let mine = *self.live.world.ctx_counter();
        let all = crate::coll::allgather::allgather_u32s(self, &[color as u32, key as u32, mine])?;
        let ctx = self.agree_ctx(all.chunks(3).map(|c| c[2]));
        if color < 0 {
            return Ok(None);
        }
        let mut members: Vec<(i32, u32)> = all
            .chunks(3)
            .enumerate()
            .filter(|(_, c)| c[0] as i32 == color)
            .map(|(r, c)| (c[1] as i32, r as u32))
            .collect();
        members.sort();
        let world: Vec<u32> = members
            .iter()
            .map(|&(_, r)| self.group.world_rank(r))
            .collect();
        let group = Group::new(world, self.live.world.size);
        Ok(Some(self.child(ctx, group)))
    }

    /// A second communicator over the same ranks whose traffic never meets this
    /// one's, without any communication: it uses the context id reserved next to
    /// this communicator's. For a progress thread that runs non-blocking
    /// collectives beside the blocking ones. A twin has no twin.
    pub fn twin(&self) -> Result<Comm> {
        if self.ctx_id % 2 == 1 {
            return Err(Error::arg("a twin communicator has no twin"));
        }
        Ok(self.child(self.ctx_id + 1, (*self.group).clone()))
    }

    /// The communicator of this rank alone (MPI_COMM_SELF), without communication.
    pub fn solo(&self) -> Comm {
        let me = self.live.world.rank;
        self.child(engine::SELF_CTX, Group::new(vec![me], self.live.world.size))
    }

    /// MPI_Comm_create_group: a communicator of `members` (ranks of this
    /// communicator, in the new order), called by the members only. `tag` keeps
    /// concurrent calls over overlapping members apart.
    pub fn create_group(&self, members: &[u32], tag: i32) -> Result<Comm> {
        let me = self.rank;
        let Some(pos) = members.iter().position(|&m| m == me) else {
            return Err(Error::arg(format!("rank {me} is not in the group")));
        };
        let mut seen = vec![false; self.size() as usize];
        for &m in members {
            if m >= self.size() || std::mem::replace(&mut seen[m as usize], true) {
                return Err(Error::arg(format!(
                    "group member {m} is out of range or repeated"
                )));
            }
        }
        // The members agree on a context id: the first collects proposals and
        // answers with the largest. Parent collectives use small tags; these sit
        // above them.
        let tag = crate::coll::tags::CREATE_GROUP | (tag & 0xf_ffff);
        let mine = *self.live.world.ctx_counter();
        let agreed = if pos == 0 {
            let mut best = mine;
            let mut buf = [0u8; 4];
            for &m in &members[1..] {
                self.coll_recv(&mut buf, m, tag)?;
                best = best.max(u32::from_le_bytes(buf));
            }
            for &m in &members[1..] {
                self.coll_send(&best.to_le_bytes(), m, tag)?;
            }
            best
        } else {
            let mut buf = [0u8; 4];
            self.coll_send(&mine.to_le_bytes(), members[0], tag)?;
            self.coll_recv(&mut buf, members[0], tag)?;
            u32::from_le_bytes(buf)
        };
        let ctx = self.agree_ctx(std::iter::once(agreed));
        let world: Vec<u32> = members.iter().map(|&m| self.group.world_rank(m)).collect();
        Ok(self.child(ctx, Group::new(world, self.live.world.size)))
    }

    /// Synchronous send (MPI_Ssend): returns once the receiver has matched it.
    pub fn ssend(&self, data: &[u8], dest: i32, tag: i32) -> Result<()> {
        // SAFETY: the request is waited for before `data` goes out of scope.
        let req =
            unsafe { self.issend(RawBuf::new(data.as_ptr() as *mut u8, data.len()), dest, tag)? };
        req.wait().and_then(status_result).map(|_| ())
    }

    /// Starts a synchronous send (MPI_Issend).
    ///
    /// # Safety
    /// `buf` must stay valid and unmodified until the request completes.
    pub unsafe fn issend(&self, buf: RawBuf, dest: i32, tag: i32) -> Result<Request> {
        check_tag(tag)?;
        let id = self
            .live
            .world
            .issend(self.p2p_ctx(), self.dest(dest)?, tag, buf, &self.group)?;
        Ok(self.request(id))
    }

    /// The context id (the same on every member).
    pub fn ctx_id(&self) -> u32 {
        self.ctx_id
    }

    /// The mediated channel a collective `op` of `bytes` per rank goes through,
    /// or `None` for the direct algorithms. Every rank decides the same way from
    /// the same inputs (configuration, hint, size, bytes), so all take one path.
    pub(crate) fn mediated_for(
        &self,
        op: crate::policy::Op,
        bytes: usize,
    ) -> Result<Option<Arc<dyn Store>>> {
        let (stores, direct) = self.live.world.channels();
        if stores.is_empty() {
            return Ok(None);
        }
        let mut available: Vec<ChannelKind> = stores.iter().map(|s| s.kind()).collect();
        if direct {
            available.insert(0, ChannelKind::Direct);
        }
        let kind = match self.live.world.cfg.channel {
            Some(k) => k,
            None => {
                self.live
                    .world
                    .cfg
                    .model
                    .choose(op, bytes, self.size(), self.hint(), &available)
            }
        };
        Ok(stores.into_iter().find(|s| s.kind() == kind))
    }

    /// Modelled USD of this rank's share of the job for `seconds` of running (see
    /// `policy::Model::rank_cost`).
    pub fn cost(&self, seconds: f64) -> f64 {
        let w = &self.live.world;
        let (stores, direct) = w.channels();
        let mut used: Vec<(ChannelKind, crate::channel::store::Usage)> =
            stores.iter().map(|s| (s.kind(), s.usage())).collect();
        if direct && w.size > 1 {
            used.push((ChannelKind::Direct, Default::default()));
        }
        w.cfg.model.rank_cost(seconds, w.size, &used)
    }

    pub(crate) fn next_staged_seq(&self) -> u64 {
        let mut s = self.staged.lock();
        s.next += 1;
        s.next - 1
    }

    pub(crate) fn record_staged(&self, seq: u64, key: String) {
        self.staged.lock().mine.push((seq, key));
    }

    /// Removes and returns this rank's keys of operations before `seq`.
    pub(crate) fn take_staged_before(&self, seq: u64) -> Vec<String> {
        let mut s = self.staged.lock();
        let (old, keep) = std::mem::take(&mut s.mine)
            .into_iter()
            .partition(|(q, _)| *q < seq);
        s.mine = keep;
        old.into_iter().map(|(_, k)| k).collect()
    }

    pub fn barrier(&self) -> Result<()> {
        crate::coll::barrier::barrier(self)
    }
}

impl Drop for Comm {
    /// Freeing the last communicator of a world leaves the job in order.
    fn drop(&mut self) {
        if self.live.comms.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.live.world.shutdown();
        }
    }
}
