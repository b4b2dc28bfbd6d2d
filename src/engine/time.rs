//! Simulated time as integer nanoseconds.
//!
//! Task: add durations to instants without drift. A float clock accumulates rounding error and can
//! order two events differently on two machines; an integer clock cannot.

use std::fmt;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant of simulated time: nanoseconds since the run started.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable instant (about 584 years).
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `nanos` after this one, saturating at [`SimTime::MAX`].
    #[inline]
    pub fn after(self, nanos: u64) -> SimTime {
        SimTime(self.0.saturating_add(nanos))
    }

    /// Nanoseconds from `earlier` to this instant (zero if `earlier` is later).
    #[inline]
    pub fn since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This instant in seconds, for reporting only.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        nanos_to_secs(self.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

/// Converts a non-negative duration in seconds to nanoseconds, rounding to nearest and
/// saturating (negative and NaN inputs become zero).
#[inline]
pub fn secs_to_nanos(secs: f64) -> u64 {
    if secs.is_nan() || secs <= 0.0 {
        0
    } else {
        round_to_u64(secs * NANOS_PER_SEC as f64)
    }
}

/// `x.round() as u64` (half away from zero, saturating; negative and NaN give 0) without a call
/// to the platform's `round`, which baseline x86-64 cannot inline: it is on every event's path.
/// Exact: the fractional part `x - trunc(x)` of a double is representable.
#[inline]
pub fn round_to_u64(x: f64) -> u64 {
    // From 2^53 on every double is a whole number (and NaN fails the test: `as` makes it 0).
    if x < 9_007_199_254_740_992.0 {
        // Signed conversions are single instructions on x86-64, unsigned ones are not; `as`
        // truncates towards zero and saturates. No branch on the fraction: for random values it
        // would be mispredicted half the time.
        let t = x as i64;
        (t + (x - t as f64 >= 0.5) as i64).max(0) as u64
    } else {
        x as u64
    }
}

/// `x.round() as u32`, saturating, as [`round_to_u64`].
#[inline]
pub fn round_to_u32(x: f64) -> u32 {
    round_to_u64(x).min(u32::MAX as u64) as u32
}

/// Converts a duration in nanoseconds to seconds, for reporting.
#[inline]
pub fn nanos_to_secs(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_SEC as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_without_libm_matches_round_everywhere() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            -0.5,
            -0.7,
            4503599627370495.5,
            9007199254740993.0,
            1e19,
            1.9e19,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            4294967295.5,
            1e12 + 0.5,
        ];
        let mut x = 1e-3;
        while x < 1e20 {
            cases.extend([x, x + 0.5, x - 0.5, x * 1.000_000_1]);
            x *= 1.37;
        }
        for x in cases {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x}");
            assert_eq!(round_to_u32(x), x.round() as u32, "{x}");
        }
    }

    #[test]
    fn seconds_round_trip_through_nanoseconds() {
        assert_eq!(secs_to_nanos(1.5), 1_500_000_000);
        assert_eq!(secs_to_nanos(0.000_000_000_4), 0);
        assert_eq!(secs_to_nanos(-3.0), 0);
        assert_eq!(secs_to_nanos(f64::NAN), 0);
        assert_eq!(secs_to_nanos(1e30), u64::MAX);
        assert_eq!(nanos_to_secs(2_250_000_000), 2.25);
    }

    #[test]
    fn instants_saturate_instead_of_wrapping() {
        assert_eq!(SimTime::MAX.after(5), SimTime::MAX);
        assert_eq!(SimTime(3).since(SimTime(10)), 0);
        assert_eq!(SimTime(10).since(SimTime(3)), 7);
    }
}
