//! A communicator's members: the world ranks it holds, in communicator-rank order.

/// Ordered set of world ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    members: Vec<u32>,
    /// World rank -> communicator rank, -1 for non-members.
    index: Vec<i32>,
}

impl Group {
    /// A group of `members` (distinct world ranks below `world_size`).
    pub fn new(members: Vec<u32>, world_size: u32) -> Group {
        let mut index = vec![-1; world_size as usize];
        for (i, &w) in members.iter().enumerate() {
            index[w as usize] = i as i32;
        }
        Group { members, index }
    }

    /// Every world rank, in order.
    pub fn world(size: u32) -> Group {
        Group::new((0..size).collect(), size)
    }

    pub fn size(&self) -> u32 {
        self.members.len() as u32
    }

    /// World rank of communicator rank `r` (which must be in range).
    pub fn world_rank(&self, r: u32) -> u32 {
        self.members[r as usize]
    }

    /// Communicator rank of world rank `w`, if a member.
    pub fn comm_rank(&self, w: u32) -> Option<u32> {
        match self.index.get(w as usize) {
            Some(&i) if i >= 0 => Some(i as u32),
            _ => None,
        }
    }

    pub fn contains(&self, w: u32) -> bool {
        self.comm_rank(w).is_some()
    }

    pub fn members(&self) -> &[u32] {
        &self.members
    }
}
