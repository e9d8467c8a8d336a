//! Proleptic Gregorian calendar arithmetic (days since 1970-01-01 ↔ year, month, day), shared by
//! every place that reads or prints a date: certificates, NAB files, the console's clock. Pure
//! integer maths: never reads a clock.

/// Days since 1970-01-01 of a date (Howard Hinnant's algorithm: the year is shifted to start in
/// March so leap days fall at its end). `m` is 1–12; out-of-range parts are the caller's to
/// reject.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day), the same algorithm run backwards, in i128 so no
/// `i64` input overflows.
pub fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    proptest! {
        #[test]
        fn the_two_directions_agree(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            let y = i64::try_from(y).unwrap_or(i64::MAX);
            prop_assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }

        #[test]
        fn consecutive_days_are_consecutive_dates(days in -1_000_000i64..1_000_000) {
            let (y0, m0, d0) = civil_from_days(days);
            let (y1, m1, d1) = civil_from_days(days + 1);
            // Either the next day of the month, or the first of the next month or year.
            let next_day = y1 == y0 && m1 == m0 && d1 == d0 + 1;
            let next_month = y1 == y0 && m1 == m0 + 1 && d1 == 1;
            let next_year = y1 == y0 + 1 && m0 == 12 && m1 == 1 && d0 == 31 && d1 == 1;
            prop_assert!(next_day || next_month || next_year, "{:?} -> {:?}", (y0, m0, d0), (y1, m1, d1));
        }

        #[test]
        fn never_panics(days in any::<i64>()) {
            let (_, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d));
        }
    }
}
