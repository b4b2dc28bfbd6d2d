//! The event loop and its guards.
//!
//! Task: pop events in order and hand them to a model until the queue drains, and stop a model that
//! runs away (spawns forever, never drains) at a stated limit with a message that says which limit
//! and where the run was, instead of running out of memory.

use super::{EventQueue, SimTime};
use std::fmt;

/// A model: state that reacts to its own events by changing and scheduling more.
pub trait Model {
    /// The model's event type: a plain enum, dispatched by `match`.
    type Event;

    /// Reacts to `event`, which happens at `now`.
    fn handle(&mut self, now: SimTime, event: Self::Event, queue: &mut EventQueue<Self::Event>);

    /// How many entities are alive now, for the live-entity guard.
    fn live_entities(&self) -> usize;

    /// Units of work done inside events so far (entities created, say), counted with the events
    /// against `max_events`: one event may do unbounded work, and a model whose work never
    /// schedules an event would otherwise escape every guard. A model must also stop working
    /// inside an event once `work()` reaches `max_events`.
    fn work(&self) -> u64 {
        0
    }
}

/// Limits that stop a run which would otherwise not end, or not end in reasonable memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guards {
    /// Whether a tripped guard ends the run with what it has (`true`) or fails it (`false`).
    pub stop_quietly: bool,
    /// Most events a run may process, together with the work done inside them ([`Model::work`]).
    pub max_events: u64,
    /// Latest simulated instant an event may happen at.
    pub max_time: SimTime,
    /// Most entities alive at once.
    pub max_live: usize,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            stop_quietly: false,
            max_events: 100_000_000,
            max_time: SimTime(24 * 3600 * super::time::NANOS_PER_SEC),
            max_live: 1_000_000,
        }
    }
}

/// Which guard stopped a run, and where the run was when it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardTripped {
    /// The limit that was reached.
    pub limit: GuardLimit,
    /// Simulated time when the run stopped.
    pub at: SimTime,
    /// Events processed when the run stopped.
    pub events: u64,
}

/// A guard limit with its configured value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardLimit {
    /// `max_events` was reached.
    Events(u64),
    /// An event was due after `max_time`.
    Time(SimTime),
    /// More than `max_live` entities were alive.
    Live(usize),
}

impl fmt::Display for GuardTripped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.limit {
            GuardLimit::Events(n) => write!(
                f,
                "guard max_events = {n} reached (events and tasks started)"
            )?,
            GuardLimit::Time(t) => write!(f, "guard max_sim_time = {t} reached")?,
            GuardLimit::Live(n) => write!(f, "guard max_live = {n} exceeded")?,
        }
        write!(
            f,
            " at simulated time {} after {} events",
            self.at, self.events
        )
    }
}

impl std::error::Error for GuardTripped {}

/// What a finished run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStats {
    /// Events processed.
    pub events: u64,
    /// Time of the last event processed.
    pub end: SimTime,
}

/// Runs `model` until its queue drains or a guard trips.
pub fn run<M: Model>(
    model: &mut M,
    queue: &mut EventQueue<M::Event>,
    guards: &Guards,
) -> Result<RunStats, GuardTripped> {
    let mut events = 0u64;
    let mut end = SimTime::ZERO;
    while let Some((now, event)) = queue.pop() {
        if now > guards.max_time {
            return Err(GuardTripped {
                limit: GuardLimit::Time(guards.max_time),
                at: end,
                events,
            });
        }
        if events.saturating_add(model.work()) >= guards.max_events {
            return Err(GuardTripped {
                limit: GuardLimit::Events(guards.max_events),
                at: now,
                events,
            });
        }
        events += 1;
        end = now;
        model.handle(now, event, queue);
        // An event that did more work than was left (and stopped there) ends the run even when
        // nothing is scheduled after it.
        if events.saturating_add(model.work()) > guards.max_events {
            return Err(GuardTripped {
                limit: GuardLimit::Events(guards.max_events),
                at: now,
                events,
            });
        }
        if model.live_entities() > guards.max_live {
            return Err(GuardTripped {
                limit: GuardLimit::Live(guards.max_live),
                at: now,
                events,
            });
        }
    }
    Ok(RunStats { events, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each event schedules two more: the run never drains on its own.
    struct Doubling {
        live: usize,
    }

    impl Model for Doubling {
        type Event = ();
        fn handle(&mut self, now: SimTime, _: (), q: &mut EventQueue<()>) {
            self.live += 1;
            q.push(now.after(1), ());
            q.push(now.after(1), ());
        }
        fn live_entities(&self) -> usize {
            self.live
        }
    }

    fn start() -> EventQueue<()> {
        let mut q = EventQueue::new();
        q.push(SimTime::ZERO, ());
        q
    }

    #[test]
    fn event_guard_stops_a_runaway_model() {
        let g = Guards {
            stop_quietly: false,
            max_events: 50,
            max_time: SimTime::MAX,
            max_live: usize::MAX,
        };
        let err = run(&mut Doubling { live: 0 }, &mut start(), &g).unwrap_err();
        assert_eq!(err.limit, GuardLimit::Events(50));
        assert_eq!(err.events, 50);
    }

    #[test]
    fn time_guard_stops_before_the_late_event() {
        let g = Guards {
            stop_quietly: false,
            max_events: u64::MAX,
            max_time: SimTime(3),
            max_live: usize::MAX,
        };
        let err = run(&mut Doubling { live: 0 }, &mut start(), &g).unwrap_err();
        assert_eq!(err.limit, GuardLimit::Time(SimTime(3)));
        assert_eq!(err.at, SimTime(3));
        // 1 + 2 + 4 + 8 events at t = 0..=3.
        assert_eq!(err.events, 15);
    }

    #[test]
    fn live_guard_reports_the_limit() {
        let g = Guards {
            stop_quietly: false,
            max_events: u64::MAX,
            max_time: SimTime::MAX,
            max_live: 10,
        };
        let err = run(&mut Doubling { live: 0 }, &mut start(), &g).unwrap_err();
        assert_eq!(err.limit, GuardLimit::Live(10));
        assert!(err.to_string().contains("max_live = 10"), "{err}");
    }
}
