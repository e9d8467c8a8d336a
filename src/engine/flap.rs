//! Flap detection as Icinga 2 does it: each alert instance keeps whether its state changed at
//! each of its last 20 evaluations; the weighted share of changes (newer ones count more,
//! 0.8 to 1.2) is its percent state change, flapping starts above 30 % and stops below 25 %.
//! Pure bookkeeping; the engine says when an evaluation happened.

/// Evaluations remembered.
const WINDOW: u32 = 20;
/// Icinga 2's defaults.
pub const FLAP_HIGH_PCT: f64 = 30.0;
pub const FLAP_LOW_PCT: f64 = 25.0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flap {
    /// Bit i set: the state changed at the i-th most recent evaluation (bit 0 the newest).
    changes: u32,
    last_active: bool,
    pub flapping: bool,
}

impl Flap {
    /// A fresh history whose last known state was `active`.
    pub fn new(active: bool) -> Flap {
        Flap {
            changes: 0,
            last_active: active,
            flapping: false,
        }
    }

    /// The weighted percent of state changes over the window.
    pub fn percent(&self) -> f64 {
        let mut sum = 0.0;
        for age in 0..WINDOW {
            if self.changes & (1 << age) != 0 {
                // Oldest 0.8, newest 1.2, in equal steps.
                sum += 0.8 + 0.4 * f64::from(WINDOW - 1 - age) / f64::from(WINDOW - 1);
            }
        }
        sum / f64::from(WINDOW) * 100.0
    }

    /// Record one evaluation; returns the new flapping flag when it changed.
    pub fn observe(&mut self, active: bool) -> Option<bool> {
        let changed = active != self.last_active;
        self.last_active = active;
        self.changes = ((self.changes << 1) | u32::from(changed)) & ((1 << WINDOW) - 1);
        let p = self.percent();
        let was = self.flapping;
        if !was && p > FLAP_HIGH_PCT {
            self.flapping = true;
        } else if was && p < FLAP_LOW_PCT {
            self.flapping = false;
        }
        (was != self.flapping).then_some(self.flapping)
    }

    /// No change in the whole window and not active: nothing left to remember.
    pub fn is_quiet(&self) -> bool {
        self.changes == 0 && !self.last_active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flapping_starts_above_high_and_stops_below_low() {
        let mut f = Flap::new(false);
        let mut started = None;
        for i in 0..20 {
            if f.observe(i % 2 == 0) == Some(true) {
                started = Some(i);
                break;
            }
        }
        // Every evaluation a change: the newest changes weigh ~1.2, so 30 % is passed at the
        // sixth change.
        assert_eq!(started, Some(5));
        assert!(f.percent() > FLAP_HIGH_PCT);
        let mut stopped = None;
        for i in 0..20 {
            if f.observe(true) == Some(false) {
                stopped = Some(i);
                break;
            }
        }
        assert!(stopped.is_some(), "{}", f.percent());
        assert!(!f.flapping);
        for _ in 0..20 {
            f.observe(false);
        }
        for _ in 0..20 {
            f.observe(false);
        }
        assert!(f.is_quiet());
        assert_eq!(f.percent(), 0.0);
        // All 20 changed: 100 %.
        let mut g = Flap::new(false);
        for i in 0..20 {
            g.observe(i % 2 == 0);
        }
        assert!((g.percent() - 100.0).abs() < 1e-9);
    }
}
