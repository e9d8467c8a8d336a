//! PromQL counter arithmetic (`rate`, `increase`, `irate`, `resets`) with Prometheus's exact
//! reset and extrapolation rules. Pure functions over sample slices; no engine state.

use crate::model::Millis;

/// `increase(v[range])` evaluated at `at` over samples in the left-open window `(at-range, at]`.
/// `samples` must be sorted by time. `None` when fewer than two samples fall in the window.
pub fn increase(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> Option<f64> {
    extrapolated(samples, at, range_ms, true, false)
}

/// `rate(v[range])`: per-second average increase with extrapolation to the window edges.
pub fn rate(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> Option<f64> {
    extrapolated(samples, at, range_ms, true, true)
}

/// `delta(v[range])` for gauges: no reset handling, same extrapolation.
pub fn delta(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> Option<f64> {
    extrapolated(samples, at, range_ms, false, false)
}

/// `irate(v[range])`: the last two samples in the window; a decrease counts as a restart from 0.
pub fn irate(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> Option<f64> {
    let w = window(samples, at, range_ms);
    let [.., (t1, v1), (t2, v2)] = w else {
        return None;
    };
    if t2 == t1 {
        return None;
    }
    let dv = if v2 < v1 { *v2 } else { v2 - v1 };
    Some(dv / ((t2 - t1) as f64 / 1000.0))
}

/// `resets(v[range])`: how many times the counter went down.
pub fn resets(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> usize {
    window(samples, at, range_ms)
        .windows(2)
        .filter(|p| p[1].1 < p[0].1)
        .count()
}

/// Increase between two consecutive counter samples, treating a decrease as a restart from 0
/// (the value after a reset is all new increase). This is what vitals use per scrape.
pub fn counter_delta(prev: f64, cur: f64) -> f64 {
    if cur < prev { cur } else { cur - prev }
}

fn window(samples: &[(Millis, f64)], at: Millis, range_ms: i64) -> &[(Millis, f64)] {
    // Prometheus 3 windows are left-open, right-closed: (at - range, at].
    let lo = samples.partition_point(|&(t, _)| t <= at - range_ms);
    let hi = samples.partition_point(|&(t, _)| t <= at);
    &samples[lo..hi.max(lo)]
}

fn extrapolated(
    samples: &[(Millis, f64)],
    at: Millis,
    range_ms: i64,
    is_counter: bool,
    per_second: bool,
) -> Option<f64> {
    let w = window(samples, at, range_ms);
    if w.len() < 2 {
        return None;
    }
    let (t_first, v_first) = w[0];
    let (t_last, v_last) = w[w.len() - 1];
    let mut result = v_last - v_first;
    if is_counter {
        // Every decrease is a reset: add back the value the counter had before it.
        for p in w.windows(2) {
            if p[1].1 < p[0].1 {
                result += p[0].1;
            }
        }
    }
    let range_start = (at - range_ms) as f64 / 1000.0;
    let range_end = at as f64 / 1000.0;
    let first = t_first as f64 / 1000.0;
    let last = t_last as f64 / 1000.0;
    let mut dur_to_start = first - range_start;
    let dur_to_end = range_end - last;
    let sampled = last - first;
    let avg_interval = sampled / (w.len() - 1) as f64;

    if is_counter && result > 0.0 && v_first >= 0.0 {
        // A counter cannot have been below zero: do not extrapolate the start past the point
        // where it would have been zero.
        let dur_to_zero = sampled * (v_first / result);
        if dur_to_zero < dur_to_start {
            dur_to_start = dur_to_zero;
        }
    }
    // Extrapolate fully to a boundary that is close (within 1.1 average intervals); otherwise
    // only half an interval, assuming the series started or ended in between.
    let threshold = avg_interval * 1.1;
    let mut extrapolate_to = sampled;
    extrapolate_to += if dur_to_start < threshold {
        dur_to_start
    } else {
        avg_interval / 2.0
    };
    extrapolate_to += if dur_to_end < threshold {
        dur_to_end
    } else {
        avg_interval / 2.0
    };
    if sampled <= 0.0 {
        return None;
    }
    result *= extrapolate_to / sampled;
    if per_second {
        result /= range_ms as f64 / 1000.0;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// Prometheus expanding notation `start+step x n` → n+1 values.
    fn series(start_ms: i64, every_ms: i64, values: &[f64]) -> Vec<(Millis, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (start_ms + i as i64 * every_ms, v))
            .collect()
    }

    #[test]
    fn increase_counts_resets_like_prometheus() {
        // functions.test: 5m-spaced 0 1 2 3 2 3 4 → increase(x[30m]) @ 30m = 7.
        let s = series(0, 5 * MIN, &[0., 1., 2., 3., 2., 3., 4.]);
        let got = increase(&s, 30 * MIN, 30 * MIN).unwrap();
        assert!((got - 7.0).abs() < 1e-9, "got {got}");
        assert_eq!(resets(&s, 30 * MIN, 30 * MIN), 1);
    }

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // functions.test: 0+27x4 then 0+27x5 (a reset), 5m apart; rate(x[50m]) @ 50m = 0.08.
        let mut v: Vec<f64> = (0..=4).map(|i| 27.0 * i as f64).collect();
        v.extend((0..=5).map(|i| 27.0 * i as f64));
        let s = series(0, 5 * MIN, &v);
        let got = rate(&s, 50 * MIN, 50 * MIN).unwrap();
        assert!((got - 0.08).abs() < 1e-9, "got {got}");
    }

    #[test]
    fn one_sample_in_window_gives_nothing() {
        let s = series(0, 5 * MIN, &[1., 2., 3.]);
        assert_eq!(rate(&s, 10 * MIN, 4 * MIN), None);
        assert_eq!(irate(&s, 10 * MIN, 4 * MIN), None);
    }

    #[test]
    fn irate_uses_last_two_and_restarts_from_zero() {
        let s = vec![(0, 10.0), (10_000, 20.0), (20_000, 5.0)];
        assert_eq!(irate(&s, 20_000, 60_000), Some(0.5));
        let s = vec![(0, 10.0), (10_000, 20.0)];
        assert_eq!(irate(&s, 10_000, 60_000), Some(1.0));
        assert_eq!(irate(&[(5, 1.0), (5, 2.0)], 5, 60_000), None);
    }

    #[test]
    fn window_is_left_open() {
        // A sample exactly at at-range is outside the window.
        let s = vec![(0, 0.0), (60_000, 6.0), (120_000, 12.0)];
        let w = window(&s, 120_000, 120_000);
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn counter_delta_treats_decrease_as_restart() {
        assert_eq!(counter_delta(100.0, 5.0), 5.0);
        assert_eq!(counter_delta(5.0, 7.5), 2.5);
    }

    #[test]
    fn delta_does_not_treat_decrease_as_reset() {
        let s = series(0, MIN, &[10., 8., 6.]);
        let d = delta(&s, 2 * MIN, 2 * MIN + 1).unwrap();
        assert!(d < 0.0);
    }
}
