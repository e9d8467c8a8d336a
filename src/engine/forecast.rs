//! Capacity forecasts per host: a downsampled ring of memory and fullest-disk points covering
//! the forecast window, and the trend fitted on it (maths in `detect::forecast`). Pure: time
//! arrives with the points; nothing here reads a clock.

use std::collections::VecDeque;

use crate::detect::forecast::time_to_level;
use crate::model::{Forecast, Millis};

use crate::model::Vital;

/// Points a forecast ring holds: the window is cut into this many steps and at most one point
/// is kept per step, so a 6 h window costs 360 points whatever the poll interval.
pub const RING_POINTS: usize = 360;

/// Fewest points a trend is fitted on; below this a few noisy polls decide the slope.
pub const MIN_POINTS: usize = 20;

/// The level a capacity vital is full at, in percent.
pub const FULL_PCT: f64 = 100.0;

const DAY_MS: f64 = 86_400_000.0;

/// Where a capacity vital is heading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Too few points in the window to say.
    Unknown,
    /// Flat or falling (or too noisy to fit): it does not fill.
    Never,
    /// Days until full from the last point: best estimate and the band's ends.
    Days { days: f64, low: f64, high: f64 },
}

#[derive(Debug, Default)]
struct Ring {
    points: VecDeque<(Millis, f64)>,
    fill: Option<Fill>,
}

impl Ring {
    /// Adds a point unless one was kept less than a step ago; drops points older than the
    /// window. Returns whether the ring changed.
    fn push(&mut self, at: Millis, v: f64, window_ms: i64) -> bool {
        let step = (window_ms / RING_POINTS as i64).max(1);
        if let Some(&(last, _)) = self.points.back()
            && at < last.saturating_add(step)
        {
            return false;
        }
        if !v.is_finite() {
            return false;
        }
        self.points.push_back((at, v));
        let oldest = at.saturating_sub(window_ms);
        while self.points.front().is_some_and(|p| p.0 < oldest) || self.points.len() > RING_POINTS {
            self.points.pop_front();
        }
        true
    }

    fn refit(&mut self) {
        self.fill = Some(if self.points.len() < MIN_POINTS {
            Fill::Unknown
        } else {
            let t0 = self.points.front().map(|p| p.0).unwrap_or(0);
            // Days since the first point: small numbers keep the fit well conditioned.
            let xs: Vec<f64> = self
                .points
                .iter()
                .map(|p| (p.0.saturating_sub(t0)) as f64 / DAY_MS)
                .collect();
            let ys: Vec<f64> = self.points.iter().map(|p| p.1).collect();
            match time_to_level(&xs, &ys, FULL_PCT) {
                Some(f) => Fill::Days {
                    days: f.time,
                    low: f.time_low,
                    high: f.time_high,
                },
                None => Fill::Never,
            }
        });
    }
}

/// Forecast state of one host.
#[derive(Debug, Default)]
pub struct HostCapacity {
    mem: Ring,
    disk: Ring,
}

impl HostCapacity {
    /// The vitals that get forecasts.
    pub const VITALS: [Vital; 2] = [Vital::Mem, Vital::DiskMax];

    /// Feeds one point of a vital; only memory and the fullest disk are kept.
    pub fn observe(&mut self, v: Vital, at: Millis, value: f64, window_ms: i64) {
        let ring = match v {
            Vital::Mem => &mut self.mem,
            Vital::DiskMax => &mut self.disk,
            _ => return,
        };
        if ring.push(at, value, window_ms) {
            ring.refit();
        }
    }

    /// Where the vital is heading (`Unknown` for vitals without forecasts).
    pub fn fill(&self, v: Vital) -> Fill {
        let ring = match v {
            Vital::Mem => &self.mem,
            Vital::DiskMax => &self.disk,
            _ => return Fill::Unknown,
        };
        ring.fill.unwrap_or(Fill::Unknown)
    }

    /// Forecasts worth showing: rising, and full within `horizon_days`.
    pub fn published(&self, horizon_days: f64) -> Vec<Forecast> {
        Self::VITALS
            .iter()
            .filter_map(|&v| match self.fill(v) {
                Fill::Days { days, low, high } if days <= horizon_days => Some(Forecast {
                    vital: v.key().to_string(),
                    days,
                    days_low: low,
                    days_high: high,
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn ring_keeps_one_point_per_step_and_only_the_window() {
        let mut r = Ring::default();
        let window = 360 * MIN; // step = 1 min
        for i in 0..1000 {
            r.push(i * 15_000, 1.0, window);
        }
        // 1000 polls at 15 s span 250 min: one point per minute.
        assert_eq!(r.points.len(), 250);
        for i in 1000..3000 {
            r.push(i * 15_000, 1.0, window);
        }
        assert!(r.points.len() <= RING_POINTS);
        let (first, last) = (r.points[0].0, r.points[r.points.len() - 1].0);
        assert!(last - first <= window);
    }

    #[test]
    fn a_rising_disk_publishes_and_a_flat_one_does_not() {
        let mut c = HostCapacity::default();
        // +1 point per hour from 50 %: 50 h to full, about 2.08 days.
        for i in 0..120 {
            let at = i * 3 * MIN;
            c.observe(
                Vital::DiskMax,
                at,
                50.0 + at as f64 / 3_600_000.0,
                360 * MIN,
            );
            c.observe(Vital::Mem, at, 40.0, 360 * MIN);
        }
        let f = c.published(30.0);
        assert_eq!(f.len(), 1, "{f:?}");
        let last_at = 119.0 * 3.0 / 60.0;
        let want = (50.0 - last_at) / 24.0;
        assert!((f[0].days - want).abs() < 1e-9, "{} vs {want}", f[0].days);
        assert_eq!(c.fill(Vital::Mem), Fill::Never);
        assert!(c.published(1.0).is_empty(), "beyond the horizon");
    }
}
