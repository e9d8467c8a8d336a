//! Small-M matrix product for the LSTM recurrence: C += A·B with A (M×K), B (K×N), C (M×N), all
//! row-major and contiguous. matrixmultiply packs B on every call; inside the recurrence B is
//! the same weight matrix for all T steps and M is only the batch (16–32), so packing cost ~20 %
//! of training time (perf). This kernel reads B in place instead. Pure arithmetic on slices;
//! must not allocate.

/// Columns per register block: two 8-lane AVX registers.
const NB: usize = 16;

/// R rows × NB columns of C += A·B over all K, starting at row `r0`, column `j0`.
#[inline(always)]
fn block<const R: usize, const FMA: bool>(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    (k, n): (usize, usize),
    r0: usize,
    j0: usize,
) {
    let mut acc = [[0.0f32; NB]; R];
    let a_rows: [&[f32]; R] =
        std::array::from_fn(|r| a.get((r0 + r) * k..(r0 + r + 1) * k).unwrap_or_default());
    for kk in 0..k {
        let Some(brow) = b.get(kk * n + j0..kk * n + j0 + NB) else {
            return;
        };
        let Ok(brow) = <&[f32; NB]>::try_from(brow) else {
            return;
        };
        for (accr, ar) in acc.iter_mut().zip(&a_rows) {
            let av = ar.get(kk).copied().unwrap_or(0.0);
            for (s, &bv) in accr.iter_mut().zip(brow) {
                *s = if FMA {
                    av.mul_add(bv, *s)
                } else {
                    *s + av * bv
                };
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        let start = (r0 + r) * n + j0;
        if let Some(crow) = c.get_mut(start..start + NB) {
            for (cv, &s) in crow.iter_mut().zip(accr) {
                *cv += s;
            }
        }
    }
}

#[inline(always)]
fn gemm_impl<const FMA: bool>(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let full = n / NB * NB;
    // Column blocks outside, row blocks inside: the K×16 slice of B (8 KiB at K = 128) stays
    // in L1 while every row block of A streams past it.
    for j0 in (0..full).step_by(NB) {
        let mut r0 = 0;
        while r0 + 4 <= m {
            block::<4, FMA>(a, b, c, (k, n), r0, j0);
            r0 += 4;
        }
        while r0 < m {
            block::<1, FMA>(a, b, c, (k, n), r0, j0);
            r0 += 1;
        }
    }
    if full < n {
        for r in 0..m {
            for j in full..n {
                let mut s = 0.0f32;
                for kk in 0..k {
                    s += a.get(r * k + kk).copied().unwrap_or(0.0)
                        * b.get(kk * n + j).copied().unwrap_or(0.0);
                }
                if let Some(cv) = c.get_mut(r * n + j) {
                    *cv += s;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm_impl::<true>(m, k, n, a, b, c);
}

/// C (m×n) += A (m×k) · B (k×n). Slices shorter than their shapes contribute zeros instead of
/// panicking (callers pass buffers they allocated with exactly these shapes).
pub fn gemm_acc(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: both target features were detected on this CPU just above.
        unsafe { gemm_avx2(m, k, n, a, b, c) };
        return;
    }
    gemm_impl::<false>(m, k, n, a, b, c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::rng::SplitMix64;
    use ndarray::Array2;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Agrees with ndarray's GEMM for shapes around the block sizes (row tails, column tails).
        #[test]
        fn matches_ndarray(m in 1usize..11, k in 1usize..40, n in 1usize..70, seed in any::<u64>()) {
            let mut rng = SplitMix64::new(seed);
            let a = Array2::from_shape_simple_fn((m, k), || rng.uniform(1.0));
            let b = Array2::from_shape_simple_fn((k, n), || rng.uniform(1.0));
            let c0 = Array2::from_shape_simple_fn((m, n), || rng.uniform(1.0));
            let want = &c0 + &a.dot(&b);
            let mut c = c0.clone();
            gemm_acc(m, k, n, a.as_slice().unwrap_or_default(), b.as_slice().unwrap_or_default(), c.as_slice_mut().unwrap_or_default());
            for (x, y) in c.iter().zip(want.iter()) {
                prop_assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{} vs {}", x, y);
            }
        }
    }
}
