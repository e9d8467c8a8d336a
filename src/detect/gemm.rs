//! Matrix products for the LSTM: C += A·B with B (K×N) and C (M×N) row-major and contiguous, A
//! either row-major (M×K) or given as its transpose (K×M, for weight gradients hᵀ·dG). Replaces
//! matrixmultiply inside the layer because that packs B on every call, and B is the same weight
//! matrix for all T steps. Pure arithmetic on slices; must not allocate and must not know about
//! layers.
//!
//! Every output element is summed the same way on every path: `acc = 0; acc = fma(a_k, b_k, acc)`
//! for k in order over one K block, then `c += acc`, block after block. With the block length
//! [`MM_KC`] this is exactly what matrixmultiply's FMA kernel computes, so a product moved here
//! from `general_mat_mul` gives bit-identical results (the shipped models were trained with it).

/// K block of matrixmultiply's f32 kernel (`S_KC`): it adds each run of 256 products to C
/// separately. Products that used to go through `general_mat_mul` pass this to stay identical.
pub(crate) const MM_KC: usize = 256;

/// No K blocking: one accumulator over all of K (what the recurrence kernel always did).
pub(crate) const WHOLE_K: usize = usize::MAX;

/// How A is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ALayout {
    /// A itself, M×K row-major.
    Rows,
    /// Aᵀ, K×M row-major (A's columns are contiguous).
    Transposed,
}

/// Shape of one product: C (m×n) += A (m×k) · B (k×n), K summed in blocks of `kc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub kc: usize,
    pub a: ALayout,
    /// Columns from the last multiple of 16 on are summed as `s + a·b` without FMA. The
    /// recurrence kernel this module replaced did that in its scalar tail; [`gemm_acc`] keeps it
    /// so that layers whose width is not a multiple of 16 (4H or H) score exactly as before.
    pub unfused_tail: bool,
}

impl Dims {
    /// A product that used to be a `general_mat_mul` call: matrixmultiply's K blocking, FMA
    /// everywhere.
    pub(crate) fn mm(m: usize, k: usize, n: usize, a: ALayout) -> Self {
        Self {
            m,
            k,
            n,
            kc: MM_KC,
            a,
            unfused_tail: false,
        }
    }

    /// Columns the SIMD kernels do; the rest go to [`tail_columns`].
    fn simd_cols(&self) -> usize {
        if self.unfused_tail {
            self.n / 16 * 16
        } else {
            self.n
        }
    }

    /// Element (i, kk) of A is at `i * rs + kk * cs`.
    fn a_strides(&self) -> (usize, usize) {
        match self.a {
            ALayout::Rows => (self.k, 1),
            ALayout::Transposed => (1, self.m),
        }
    }

    /// Whether the slices hold every element the product touches. Checked once per call so the
    /// kernels below never meet an out-of-range index.
    fn fits(&self, a: usize, b: usize, c: usize) -> bool {
        let need = |x: usize, y: usize| x.checked_mul(y);
        matches!(need(self.m, self.k), Some(v) if v <= a)
            && matches!(need(self.k, self.n), Some(v) if v <= b)
            && matches!(need(self.m, self.n), Some(v) if v <= c)
            && self.kc > 0
    }
}

/// Columns per register block of the portable body: two 8-lane AVX registers.
const NB: usize = 16;

/// R rows × NB columns of C += A·B over K rows `k0..k0 + kl`, starting at row `r0`, column `j0`.
#[inline(always)]
fn block<const R: usize, const FMA: bool>(
    d: &Dims,
    (a, b, c): (&[f32], &[f32], &mut [f32]),
    (k0, kl): (usize, usize),
    r0: usize,
    j0: usize,
) {
    let (rs, cs) = d.a_strides();
    let n = d.n;
    let mut acc = [[0.0f32; NB]; R];
    for kk in k0..k0 + kl {
        let Some(brow) = b.get(kk * n + j0..kk * n + j0 + NB) else {
            return;
        };
        let Ok(brow) = <&[f32; NB]>::try_from(brow) else {
            return;
        };
        for (r, accr) in acc.iter_mut().enumerate() {
            let av = a.get((r0 + r) * rs + kk * cs).copied().unwrap_or(0.0);
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

/// Portable body (also compiled with AVX2+FMA enabled): 4×16 register blocks, scalar column tail.
#[inline(always)]
fn gemm_generic<const FMA: bool>(d: &Dims, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k) = (d.m, d.k);
    let full = d.n / NB * NB;
    let mut k0 = 0;
    while k0 < k {
        let kl = d.kc.min(k - k0);
        // Column blocks outside, row blocks inside: the K×16 slice of B (8 KiB at K = 128) stays
        // in L1 while every row block of A streams past it.
        for j0 in (0..full).step_by(NB) {
            let mut r0 = 0;
            while r0 + 4 <= m {
                block::<4, FMA>(d, (a, b, &mut *c), (k0, kl), r0, j0);
                r0 += 4;
            }
            while r0 < m {
                block::<1, FMA>(d, (a, b, &mut *c), (k0, kl), r0, j0);
                r0 += 1;
            }
        }
        tail_columns(d, (a, b, &mut *c), (k0, kl), full, FMA && !d.unfused_tail);
        k0 += kl;
    }
}

/// Columns `from..n` of C += A·B over K rows `k0..k0 + kl`, one element at a time.
#[inline(always)]
fn tail_columns(
    d: &Dims,
    (a, b, c): (&[f32], &[f32], &mut [f32]),
    (k0, kl): (usize, usize),
    from: usize,
    fused: bool,
) {
    let (rs, cs) = d.a_strides();
    let n = d.n;
    for r in 0..d.m {
        for j in from..n {
            let mut s = 0.0f32;
            for kk in k0..k0 + kl {
                let av = a.get(r * rs + kk * cs).copied().unwrap_or(0.0);
                let bv = b.get(kk * n + j).copied().unwrap_or(0.0);
                s = if fused {
                    av.mul_add(bv, s)
                } else {
                    s + av * bv
                };
            }
            if let Some(cv) = c.get_mut(r * n + j) {
                *cv += s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2(d: &Dims, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm_generic::<true>(d, a, b, c);
}

/// AVX-512 kernel: 8 rows × 32 columns in 16 zmm accumulators (Zen 4 and Intel since Skylake-X
/// have 32 registers, so B's two vectors and the broadcast fit beside them). Column tails use
/// masked loads and stores instead of a scalar loop, which also makes N = 1 (the dense output)
/// cheap.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Dims;
    use std::arch::x86_64::{
        __mmask16, _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
        _mm512_set1_ps, _mm512_setzero_ps,
    };

    /// Rows per register block.
    const MR: usize = 8;

    /// Raw parts of one product whose extents [`Dims::fits`] has checked.
    struct Raw {
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        rs: usize,
        cs: usize,
        n: usize,
    }

    /// Lane mask for `cols` (clamped to 0..=16) active columns.
    fn mask(cols: usize) -> __mmask16 {
        if cols >= 16 {
            0xFFFF
        } else {
            ((1u32 << cols) - 1) as __mmask16
        }
    }

    /// SAFETY (caller): avx512f is available; rows `i0..i0 + R` of A and C, K rows
    /// `k0..k0 + kl` of B and A, and the columns `j0..` selected by `masks` lie inside the
    /// buffers behind `p` (guaranteed by `Dims::fits` and the loops in [`gemm`]).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const R: usize, const W: usize>(
        p: &Raw,
        (k0, kl): (usize, usize),
        i0: usize,
        j0: usize,
        masks: [__mmask16; W],
    ) {
        let mut acc = [[_mm512_setzero_ps(); W]; R];
        let mut bv = [_mm512_setzero_ps(); W];
        for kk in k0..k0 + kl {
            for ((v, &mk), w) in bv.iter_mut().zip(&masks).zip(0..) {
                // SAFETY: kk < k and j0 + 16·w < n, so the address is inside B; lanes past
                // column n are masked off and never read.
                *v = unsafe { _mm512_maskz_loadu_ps(mk, p.b.add(kk * p.n + j0 + 16 * w)) };
            }
            for (accr, r) in acc.iter_mut().zip(0..) {
                // SAFETY: i0 + r < m and kk < k, inside A by `fits`.
                let av = _mm512_set1_ps(unsafe { *p.a.add((i0 + r) * p.rs + kk * p.cs) });
                for (s, &bw) in accr.iter_mut().zip(&bv) {
                    *s = _mm512_fmadd_ps(av, bw, *s);
                }
            }
        }
        for (accr, r) in acc.iter().zip(0..) {
            for ((&s, &mk), w) in accr.iter().zip(&masks).zip(0..) {
                // SAFETY: row i0 + r < m and j0 + 16·w < n; active lanes are columns < n.
                unsafe {
                    let cp = p.c.add((i0 + r) * p.n + j0 + 16 * w);
                    let cv = _mm512_maskz_loadu_ps(mk, cp);
                    _mm512_mask_storeu_ps(cp, mk, _mm512_add_ps(cv, s));
                }
            }
        }
    }

    /// SAFETY (caller): avx512f is available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm(d: &Dims, a: &[f32], b: &[f32], c: &mut [f32]) {
        if !d.fits(a.len(), b.len(), c.len()) || d.m == 0 || d.n == 0 {
            return;
        }
        let (rs, cs) = d.a_strides();
        let p = Raw {
            a: a.as_ptr(),
            b: b.as_ptr(),
            c: c.as_mut_ptr(),
            rs,
            cs,
            n: d.n,
        };
        let mut k0 = 0;
        while k0 < d.k {
            let kl = d.kc.min(d.k - k0);
            let simd_cols = d.simd_cols();
            let mut j0 = 0;
            while j0 < simd_cols {
                let cols = simd_cols - j0;
                let mut i0 = 0;
                while i0 < d.m {
                    let rows = (d.m - i0).min(MR);
                    macro_rules! run {
                        ($w:literal, $masks:expr) => {
                            // SAFETY: rows i0..i0+rows < m, k0 + kl <= k, masks stop at n.
                            unsafe {
                                match rows {
                                    8 => block::<8, $w>(&p, (k0, kl), i0, j0, $masks),
                                    7 => block::<7, $w>(&p, (k0, kl), i0, j0, $masks),
                                    6 => block::<6, $w>(&p, (k0, kl), i0, j0, $masks),
                                    5 => block::<5, $w>(&p, (k0, kl), i0, j0, $masks),
                                    4 => block::<4, $w>(&p, (k0, kl), i0, j0, $masks),
                                    3 => block::<3, $w>(&p, (k0, kl), i0, j0, $masks),
                                    2 => block::<2, $w>(&p, (k0, kl), i0, j0, $masks),
                                    _ => block::<1, $w>(&p, (k0, kl), i0, j0, $masks),
                                }
                            }
                        };
                    }
                    // A tail of at most 16 columns takes one vector per row, not two.
                    if cols > 16 {
                        run!(2, [mask(16), mask(cols - 16)]);
                    } else {
                        run!(1, [mask(cols)]);
                    }
                    i0 += rows;
                }
                j0 += if cols > 16 { 32 } else { 16 };
            }
            if simd_cols < d.n {
                // Unfused tail (see `Dims::unfused_tail`); plain x86-64 code is fine for it.
                super::tail_columns(d, (a, b, &mut *c), (k0, kl), simd_cols, false);
            }
            k0 += kl;
        }
    }
}

/// Which kernel [`gemm_with`] runs; tests pin each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    /// Best the CPU supports.
    Auto,
    /// AVX2 + FMA body even when AVX-512 is there.
    #[cfg_attr(not(test), allow(dead_code))]
    Avx2,
    /// Portable body with FMA (`f32::mul_add`): same numbers as the SIMD paths.
    #[cfg_attr(not(test), allow(dead_code))]
    PortableFma,
    /// Portable body without FMA (what a CPU without FMA runs).
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// C += A·B as described by `d`, on the kernel `path` asks for (falling back to the portable
/// body when the CPU lacks it). Slices too short for `d` leave C untouched rather than panic:
/// callers pass buffers they allocated with exactly these shapes.
pub(crate) fn gemm_with(path: Path, d: &Dims, a: &[f32], b: &[f32], c: &mut [f32]) {
    if !d.fits(a.len(), b.len(), c.len()) {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if path == Path::Auto && has_avx512() {
            // SAFETY: avx512f was detected on this CPU just above.
            unsafe { avx512::gemm(d, a, b, c) };
            return;
        }
        if matches!(path, Path::Auto | Path::Avx2) && has_avx2_fma() {
            // SAFETY: both target features were detected on this CPU just above.
            unsafe { gemm_avx2(d, a, b, c) };
            return;
        }
    }
    if path == Path::PortableFma {
        gemm_generic::<true>(d, a, b, c);
    } else {
        gemm_generic::<false>(d, a, b, c);
    }
}

/// [`gemm_with`] on the best kernel.
pub(crate) fn gemm(d: &Dims, a: &[f32], b: &[f32], c: &mut [f32]) {
    gemm_with(Path::Auto, d, a, b, c);
}

/// C (m×n) += A (m×k) · B (k×n), all row-major, one accumulator over all of K (and an unfused
/// tail past the last full 16 columns), exactly as the recurrence always summed. Slices shorter
/// than their shapes leave C untouched instead of panicking.
pub fn gemm_acc(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let d = Dims {
        m,
        k,
        n,
        kc: WHOLE_K,
        a: ALayout::Rows,
        unfused_tail: true,
    };
    gemm(&d, a, b, c);
}

/// Row-major `src` (rows × cols) into row-major `dst` (cols × rows): the transposed weight
/// copies the backward pass multiplies with. 8×8 tiles, shuffled in registers when AVX is there;
/// slices too short for the shape leave `dst` untouched.
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    let Some(len) = rows.checked_mul(cols) else {
        return;
    };
    if src.len() < len || dst.len() < len {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: AVX was detected just above; both slices hold rows·cols elements.
        unsafe { transpose_avx(src, rows, cols, dst) };
        transpose_edges(src, rows, cols, dst, (rows / 8 * 8, cols / 8 * 8));
        return;
    }
    transpose_edges(src, rows, cols, dst, (0, 0));
}

/// The part of the transpose outside the first `full.0` rows × `full.1` columns, element by
/// element.
fn transpose_edges(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], full: (usize, usize)) {
    for i in 0..rows {
        let from = if i < full.0 { full.1 } else { 0 };
        for j in from..cols {
            if let (Some(&v), Some(d)) = (src.get(i * cols + j), dst.get_mut(j * rows + i)) {
                *d = v;
            }
        }
    }
}

/// SAFETY (caller): AVX is available and both slices hold at least rows·cols elements. Only
/// whole 8×8 tiles are done here; [`transpose_edges`] does the rest.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_avx(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    use std::arch::x86_64::{
        __m256, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_setzero_ps, _mm256_shuffle_ps,
        _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    for i0 in (0..rows / 8 * 8).step_by(8) {
        for j0 in (0..cols / 8 * 8).step_by(8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (v, ii) in r.iter_mut().zip(0..) {
                // SAFETY: row i0 + ii < rows, columns j0..j0 + 8 <= cols.
                *v = unsafe { _mm256_loadu_ps(sp.add((i0 + ii) * cols + j0)) };
            }
            let [r0, r1, r2, r3, r4, r5, r6, r7] = r;
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let out: [__m256; 8] = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (&v, jj) in out.iter().zip(0..) {
                // SAFETY: output row j0 + jj < cols, columns i0..i0 + 8 <= rows.
                unsafe { _mm256_storeu_ps(dp.add((j0 + jj) * rows + i0), v) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::rng::SplitMix64;
    use ndarray::Array2;
    use ndarray::linalg::general_mat_mul;
    use proptest::prelude::*;

    const PATHS: [Path; 4] = [Path::Auto, Path::Avx2, Path::PortableFma, Path::Portable];

    fn random(rows: usize, cols: usize, rng: &mut SplitMix64) -> Array2<f32> {
        Array2::from_shape_simple_fn((rows, cols), || rng.uniform(1.0))
    }

    /// Runs one product on `path` with A stored as `layout` wants.
    fn run(path: Path, d: &Dims, a: &Array2<f32>, b: &Array2<f32>, c0: &Array2<f32>) -> Vec<f32> {
        let a_store = match d.a {
            ALayout::Rows => a.clone(),
            ALayout::Transposed => a.t().as_standard_layout().into_owned(),
        };
        let mut c = c0.clone();
        gemm_with(
            path,
            d,
            a_store.as_slice().unwrap_or_default(),
            b.as_slice().unwrap_or_default(),
            c.as_slice_mut().unwrap_or_default(),
        );
        c.into_raw_vec_and_offset().0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        /// Every path agrees with ndarray's GEMM for shapes around the block edges (8-row and
        /// 16/32-column blocks, K blocks), both A layouts.
        #[test]
        fn matches_ndarray(
            m in 1usize..20,
            k in 1usize..40,
            n in 1usize..70,
            kc in prop_oneof![Just(WHOLE_K), 1usize..12],
            transposed in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = SplitMix64::new(seed);
            let (a, b, c0) = (random(m, k, &mut rng), random(k, n, &mut rng), random(m, n, &mut rng));
            let want = &c0 + &a.dot(&b);
            let layout = if transposed { ALayout::Transposed } else { ALayout::Rows };
            let d = Dims { m, k, n, kc, a: layout, unfused_tail: kc == WHOLE_K };
            for path in PATHS {
                let got = run(path, &d, &a, &b, &c0);
                for (x, y) in got.iter().zip(want.iter()) {
                    prop_assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{:?}: {} vs {}", path, x, y);
                }
            }
        }

        /// The SIMD paths and the portable FMA body sum in the same order, so they agree to the
        /// bit; with `MM_KC` blocking they also equal matrixmultiply (what `general_mat_mul`
        /// runs), which is what keeps training results unchanged.
        #[test]
        fn fma_paths_are_bit_identical_to_matrixmultiply(
            m in 1usize..20,
            k in prop_oneof![1usize..40, 250usize..530],
            n in prop_oneof![1usize..3, 14usize..40, 60usize..70],
            transposed in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = SplitMix64::new(seed);
            let (a, b, c0) = (random(m, k, &mut rng), random(k, n, &mut rng), random(m, n, &mut rng));
            let layout = if transposed { ALayout::Transposed } else { ALayout::Rows };
            let d = Dims::mm(m, k, n, layout);
            let mut want = c0.clone();
            general_mat_mul(1.0, &a, &b, 1.0, &mut want);
            let want: Vec<u32> = want.iter().map(|x| x.to_bits()).collect();
            for path in [Path::Auto, Path::Avx2, Path::PortableFma] {
                let got: Vec<u32> = run(path, &d, &a, &b, &c0).iter().map(|x| x.to_bits()).collect();
                prop_assert_eq!(&got, &want, "{:?}", path);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Tiles and ragged edges together equal ndarray's transpose.
        #[test]
        fn transpose_matches_ndarray(rows in 1usize..30, cols in 1usize..30, seed in any::<u64>()) {
            let mut rng = SplitMix64::new(seed);
            let a = random(rows, cols, &mut rng);
            let mut out = vec![f32::NAN; rows * cols];
            transpose(a.as_slice().unwrap_or_default(), rows, cols, &mut out);
            let want: Vec<f32> = a.t().iter().copied().collect();
            prop_assert_eq!(&out, &want);
            // The portable path alone (what a CPU without AVX runs).
            let mut portable = vec![f32::NAN; rows * cols];
            transpose_edges(a.as_slice().unwrap_or_default(), rows, cols, &mut portable, (0, 0));
            prop_assert_eq!(&portable, &want);
        }
    }

    /// The recurrence kernel as it was before this module had AVX-512: per output one FMA chain
    /// over all of K for the first n/16·16 columns, `s + a·b` for the rest.
    fn legacy(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        let full = n / 16 * 16;
        for r in 0..m {
            for j in 0..n {
                let mut s = 0.0f32;
                for kk in 0..k {
                    let (av, bv) = (a[r * k + kk], b[kk * n + j]);
                    s = if j < full {
                        av.mul_add(bv, s)
                    } else {
                        s + av * bv
                    };
                }
                c[r * n + j] += s;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// `gemm_acc` on every FMA-capable path reproduces the former recurrence kernel to the
        /// bit, tails included: batch-1 streaming and small-batch training depend on it.
        #[test]
        fn gemm_acc_is_bit_identical_to_the_former_kernel(
            m in 1usize..20,
            k in 1usize..140,
            n in 1usize..70,
            seed in any::<u64>(),
        ) {
            let mut rng = SplitMix64::new(seed);
            let (a, b, c0) = (random(m, k, &mut rng), random(k, n, &mut rng), random(m, n, &mut rng));
            let (sa, sb) = (a.as_slice().unwrap_or_default(), b.as_slice().unwrap_or_default());
            let mut want = c0.clone();
            legacy(m, k, n, sa, sb, want.as_slice_mut().unwrap_or_default());
            let d = Dims { m, k, n, kc: WHOLE_K, a: ALayout::Rows, unfused_tail: true };
            for path in [Path::Auto, Path::Avx2, Path::PortableFma] {
                let mut c = c0.clone();
                gemm_with(path, &d, sa, sb, c.as_slice_mut().unwrap_or_default());
                let same = c.iter().zip(want.iter()).all(|(x, y)| x.to_bits() == y.to_bits());
                prop_assert!(same, "{:?}", path);
            }
        }
    }

    #[test]
    fn short_slices_leave_c_untouched() {
        let a = [1.0f32; 5];
        let b = [1.0f32; 6];
        for (m, k, n) in [(2, 3, 2), (3, 2, 2), (2, 2, 4), (usize::MAX, 2, 2)] {
            let mut c = [7.0f32; 4];
            gemm_acc(m, k, n, &a, &b, &mut c);
            assert_eq!(c, [7.0; 4], "{m}×{k}·{k}×{n}");
        }
        // Empty K adds nothing; kc = 0 is refused instead of looping forever.
        let mut c = [7.0f32; 4];
        gemm_acc(2, 0, 2, &a, &b, &mut c);
        let d = Dims {
            kc: 0,
            ..Dims::mm(1, 1, 1, ALayout::Rows)
        };
        gemm(&d, &a, &b, &mut c);
        assert_eq!(c, [7.0; 4]);
    }
}
