//! Typed ids for the entities of a run, and the key that tells a pending event from a stale one.
//!
//! Jobs, tasks, calls and provider requests live in slabs whose slots are reused; an id names a
//! slot, never a value of another kind. Events that target a call or a request carry a [`Key`]:
//! the slot and a stamp that was unique when the event was scheduled. The entity keeps the stamp
//! of the one event of that kind still meant to happen; an event whose stamp no longer matches
//! (its attempt ended, its finish was rescheduled, its call is gone and the slot reused) is stale
//! and changes nothing.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The slab slot.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl From<usize> for $name {
            #[inline]
            fn from(slot: usize) -> Self {
                $name(slot as u32)
            }
        }
    };
}

id!(
    /// A job: one arrival and the tree of work it starts.
    JobId
);
id!(
    /// A running node of a job's tree (an agent, a call, a fan-out, ...).
    TaskId
);
id!(
    /// An LLM call of an agent or call task, or a hedge of one.
    CallId
);
id!(
    /// One attempt admitted by the provider, queued for a slot or being served.
    RequestId
);

/// An entity and the stamp a pending event of it was scheduled with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<I> {
    /// Whom the event is for.
    pub id: I,
    /// Unique when scheduled; the event is current while the entity still holds it.
    pub stamp: u64,
}

/// Hands out the stamps of attempts and finish schedules, one counter for the run.
///
/// Its values also key the random draw of SRE throttling, so the sequence must stay as it is:
/// one stamp per throttle draw, per attempt sent and per finish scheduled.
#[derive(Clone, Debug, Default)]
pub struct Stamps(u64);

impl Stamps {
    /// The next stamp (the first is 1: 0 means "none yet").
    #[inline]
    pub fn issue(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}
