//! Hedged requests (gRPC `hedgingPolicy`; Dean and Barroso, "The Tail at Scale", 2013): when an
//! attempt is still out after `hedging_delay`, send a copy, up to `max_attempts` copies in all,
//! `hedging_delay` apart. The first answer wins; the others are cut off and billed as waste.
//!
//! A hedge is a call of its own (`primary` names the call it copies): it never retries, and a
//! hedge that fails is simply dropped. When a hedge wins, the call it copies ends too: its own
//! attempt is cut off, or the retry it waited to send is abandoned.

use crate::engine::{EventQueue, SimTime};
use crate::model::config::MAX_HEDGES;
use crate::model::ids::CallId;
use crate::model::world::{Event, World};

impl World<'_> {
    /// Sends a hedge of `call`'s attempt in flight, and schedules the next one if more are allowed.
    pub(crate) fn hedge(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        let Some(spec) = self.policy.hedge else {
            return;
        };
        let c = self.client.call(call);
        if c.live_hedges as usize >= MAX_HEDGES || c.hedges_sent as u32 >= spec.max_extra {
            return;
        }
        let (task, sizes, attempt) = (c.task, c.sizes, c.attempt);
        let hedge_no = c.hedges_sent + 1;
        let shadow = self.new_call(task, now, sizes, Some(call), hedge_no);
        let c = self.client.call_mut(call);
        c.hedges[c.live_hedges as usize] = shadow;
        c.live_hedges += 1;
        c.hedges_sent = hedge_no;
        self.ledger.hedge_sent();
        if (hedge_no as u32) < spec.max_extra {
            q.push(now.after(spec.delay_ns), Event::Hedge { call, attempt });
        }
        self.dispatch(now, shadow, true, q);
    }

    /// An attempt of `call` was answered: if `call` is a hedge, the call it copies wins through
    /// it. The winner's other copies are cut off and it moves its task on.
    pub(crate) fn answered(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        if self.policy.hedge.is_none() {
            self.call_succeeded(now, call, q);
            return;
        }
        let winner = match self.client.call(call).primary {
            Some(primary) => {
                self.drop_hedge(call);
                self.ledger.hedge_won();
                // The call's own attempt ends here too: cut off at the provider, or never sent.
                self.end_attempt(primary);
                self.cut_off(now, primary, q);
                primary
            }
            None => call,
        };
        self.cancel_hedges(now, winner, q);
        self.call_succeeded(now, winner, q);
    }

    /// Ends hedge `shadow` (which has no attempt at the provider) and takes it off its call's list.
    pub(crate) fn drop_hedge(&mut self, shadow: CallId) {
        let s = self.end_call(shadow);
        self.ledger.life.hedges_ended += 1;
        if let Some(primary) = s.primary
            && let Some(p) = self.client.calls.get_mut(primary.index())
        {
            let n = p.live_hedges as usize;
            if let Some(i) = p.hedges[..n].iter().position(|&h| h == shadow) {
                p.hedges[i] = p.hedges[n - 1];
                p.live_hedges -= 1;
            }
        }
    }

    /// Cuts off every hedge of `call` still out (billed for what they used, as waste); those
    /// still in the admission line leave it.
    pub(crate) fn cancel_hedges(&mut self, now: SimTime, call: CallId, q: &mut EventQueue<Event>) {
        while let Some(p) = self.client.calls.get(call.index())
            && p.live_hedges > 0
        {
            let shadow = p.hedges[p.live_hedges as usize - 1];
            self.cut_off(now, shadow, q);
            self.drop_hedge(shadow);
        }
    }
}
