//! Capacity forecasts: a least-squares line through recent points, the standard error of its
//! slope, and when the line reaches a level. Maths on slices only: no engine, store or UI types,
//! no clock (the caller chooses the time unit of `xs`).
//!
//! Why not smartcore's `LinearRegression`: it returns coefficients only, not the slope's standard
//! error the band needs, and it wants a `DenseMatrix` per call; for one predictor the closed-form
//! fit below is exact, allocation-free and a dozen lines.

/// A fitted line `y = intercept + slope · x` with the uncertainty of its slope.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    /// Standard error of `slope` (0 when the points lie exactly on the line).
    pub slope_se: f64,
    /// Points used (finite pairs only).
    pub n: usize,
    /// Largest `x` used, where forecasts start from.
    pub x_last: f64,
}

impl LineFit {
    /// The line's value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// When a rising line reaches a level, in the unit of `xs`, counted from the last point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelForecast {
    /// Best estimate (0 when the fitted line is already at or above the level).
    pub time: f64,
    /// Earliest end of the band: the slope at its upper confidence limit.
    pub time_low: f64,
    /// Latest end of the band: the slope at its lower confidence limit; infinite when that
    /// limit is not rising (the data cannot rule out a flat trend).
    pub time_high: f64,
    /// The fit behind it.
    pub fit: LineFit,
}

/// Fewest points a fit is made from: two define any line, and the slope's standard error
/// needs at least one degree of freedom beyond them.
pub const MIN_FIT_POINTS: usize = 3;

/// Least-squares line through the finite `(xs[i], ys[i])` pairs (pairs with a NaN or infinity
/// are skipped; extra elements of the longer slice are ignored). `None` with fewer than
/// [`MIN_FIT_POINTS`] usable pairs, when all `x` are equal, or when the numbers are so large
/// that the sums overflow.
pub fn fit_line(xs: &[f64], ys: &[f64]) -> Option<LineFit> {
    let pairs = || {
        xs.iter()
            .zip(ys)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(&x, &y)| (x, y))
    };
    let n = pairs().count();
    if n < MIN_FIT_POINTS {
        return None;
    }
    let nf = n as f64;
    let (sx, sy) = pairs().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / nf, sy / nf);
    // Centred sums: the raw sums of squares of epoch-sized x lose every digit of the slope.
    let (sxx, sxy) = pairs().fold((0.0, 0.0), |(a, b), (x, y)| {
        let (dx, dy) = (x - mx, y - my);
        (a + dx * dx, b + dx * dy)
    });
    if !(sxx.is_finite() && sxy.is_finite()) || sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ssr = pairs().fold(0.0, |a, (x, y)| {
        let r = y - (intercept + slope * x);
        a + r * r
    });
    let slope_se = (ssr / (nf - 2.0) / sxx).sqrt();
    let x_last = pairs().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let fit = LineFit {
        slope,
        intercept,
        slope_se,
        n,
        x_last,
    };
    [slope, intercept, slope_se, fit.at(x_last)]
        .iter()
        .all(|v| v.is_finite())
        .then_some(fit)
}

/// Two-sided 95 % quantile of Student's t with `dof` degrees of freedom: the Cornish–Fisher
/// expansion around the normal quantile to the 1/ν⁴ term (within 0.2 % of the tables from 3
/// dof up; the engine never fits fewer than 20 points).
pub fn t95(dof: usize) -> f64 {
    const Z: f64 = 1.959_963_984_540_054;
    let v = dof.max(1) as f64;
    let z2 = Z * Z;
    let (z3, z5, z7, z9) = (Z * z2, Z * z2 * z2, Z * z2 * z2 * z2, Z * z2 * z2 * z2 * z2);
    Z + (z3 + Z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * Z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * Z) / (384.0 * v.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * Z) / (92_160.0 * v.powi(4))
}

/// When the trend through the points reaches `level`, with a 95 % band from the slope's
/// confidence interval. `None` unless the fitted line is rising (a falling or flat trend never
/// fills anything) or when the fit itself fails (see [`fit_line`]).
///
/// The band reflects the slope's uncertainty only, not the scatter of the last point: for
/// capacity, "how fast is it growing" dominates "where exactly is it now".
pub fn time_to_level(xs: &[f64], ys: &[f64], level: f64) -> Option<LevelForecast> {
    let fit = fit_line(xs, ys)?;
    if fit.slope <= 0.0 || !level.is_finite() {
        return None;
    }
    let now = fit.at(fit.x_last);
    let gap = (level - now).max(0.0);
    let spread = t95(fit.n - 2) * fit.slope_se;
    let (fast, slow) = (fit.slope + spread, fit.slope - spread);
    let time = gap / fit.slope;
    let time_low = gap / fast;
    let time_high = if slow > 0.0 {
        gap / slow
    } else {
        f64::INFINITY
    };
    (time.is_finite() && time_low.is_finite()).then_some(LevelForecast {
        time,
        time_low,
        time_high,
        fit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t95_matches_tables() {
        // Published two-sided 95 % t quantiles.
        for (dof, want) in [
            (3, 3.182),
            (5, 2.571),
            (10, 2.228),
            (20, 2.086),
            (100, 1.984),
        ] {
            let got = t95(dof);
            assert!(
                (got - want).abs() / want < 0.002,
                "dof {dof}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn too_few_or_degenerate_points_give_no_fit() {
        assert_eq!(fit_line(&[1.0, 2.0], &[1.0, 2.0]), None);
        assert_eq!(fit_line(&[3.0; 5], &[1.0, 2.0, 3.0, 4.0, 5.0]), None);
        assert_eq!(
            fit_line(&[1.0, f64::NAN, 3.0], &[1.0, 2.0, f64::INFINITY]),
            None
        );
    }
}
