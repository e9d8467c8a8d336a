//! Adam for the autoencoder: moments, the bias-corrected step on every instruction set with
//! identical bits, gradient norms and clipping. Maths only.

use super::*;

/// Adam state (first and second moments, step count).
#[derive(Debug, Clone)]
pub(super) struct Adam {
    m: AeParams,
    v: AeParams,
    step: i32,
}

impl Adam {
    pub(super) fn new(p: &AeParams) -> Self {
        Self {
            m: p.zeros_like(),
            v: p.zeros_like(),
            step: 0,
        }
    }

    /// One update with bias correction folded into the step size (Kingma & Ba, §2).
    /// `clip`, if set, scales every gradient first (global-norm clipping).
    /// With `threads` > 1 every tensor is split in halves and the second halves run on a helper
    /// thread: the update is element-wise, so the split cannot change a bit, and it runs between
    /// batches where the other core would idle.
    pub(super) fn update(
        &mut self,
        cfg: &LstmConfig,
        p: &mut AeParams,
        g: &AeParams,
        clip: Option<f32>,
        threads: usize,
    ) {
        self.step = self.step.saturating_add(1);
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        let lr_t =
            cfg.learning_rate * (1.0 - b2.powi(self.step)).sqrt() / (1.0 - b1.powi(self.step));
        let eps_hat = cfg.epsilon * (1.0 - b2.powi(self.step)).sqrt();
        let it = p
            .tensors_mut()
            .into_iter()
            .zip(g.tensors())
            .zip(self.m.tensors_mut())
            .zip(self.v.tensors_mut());
        let step = AdamStep {
            b1,
            b2,
            lr_t,
            eps_hat,
            clip,
        };
        type Part<'a> = (&'a mut [f32], &'a [f32], &'a mut [f32], &'a mut [f32]);
        let (mut lo, mut hi): (Vec<Part<'_>>, Vec<Part<'_>>) = (Vec::new(), Vec::new());
        for (((w, gr), m), v) in it {
            let (w, gr) = (flat_mut(w.view_mut()), flat(&gr.view()));
            let (m, v) = (flat_mut(m.view_mut()), flat_mut(v.view_mut()));
            let half = w.len() / 2;
            let same = gr.len() == w.len() && m.len() == w.len() && v.len() == w.len();
            if threads > 1 && half > 0 && same {
                // half < len of all four (checked just above), so the splits are in range.
                let (w0, w1) = w.split_at_mut(half);
                let (g0, g1) = gr.split_at(half);
                let (m0, m1) = m.split_at_mut(half);
                let (v0, v1) = v.split_at_mut(half);
                lo.push((w0, g0, m0, v0));
                hi.push((w1, g1, m1, v1));
            } else {
                lo.push((w, gr, m, v));
            }
        }
        let run = |parts: Vec<Part<'_>>| {
            for (w, g, m, v) in parts {
                adam_slices(w, g, m, v, step);
            }
        };
        if hi.is_empty() {
            run(lo);
        } else {
            std::thread::scope(|sc| {
                sc.spawn(|| run(hi));
                run(lo);
            });
        }
    }
}

/// Constants of one Adam step.
#[derive(Clone, Copy)]
struct AdamStep {
    b1: f32,
    b2: f32,
    lr_t: f32,
    eps_hat: f32,
    clip: Option<f32>,
}

dispatch! {
    /// One Adam step over a tensor's flat storage. It runs between batches, on one thread, so
    /// its vector width shows directly in the epoch time.
    fn adam_slices / adam_slices_on(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep)
        => adam_slices_body
}

#[inline(always)]
fn adam_slices_body(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: AdamStep) {
    let AdamStep {
        b1,
        b2,
        lr_t,
        eps_hat,
        clip,
    } = k;
    // Multiplying by 1 would be exact too, but an unclipped step skips the multiply.
    let (scaled, kc) = match clip {
        Some(kc) => (true, kc),
        None => (false, 1.0),
    };
    for (((w, &gr), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let gr = if scaled { gr * kc } else { gr };
        *m = b1 * *m + (1.0 - b1) * gr;
        *v = b2 * *v + (1.0 - b2) * gr * gr;
        *w -= lr_t * *m / (v.sqrt() + eps_hat);
    }
}

/// `acc` plus the squares of `xs`, in f64 and in order: the global gradient norm is summed
/// tensor by tensor in file order, so its value (reported per epoch) and every clipping decision
/// are reproducible.
pub(super) fn add_squares(mut acc: f64, xs: &[f32]) -> f64 {
    for &x in xs {
        acc += f64::from(x) * f64::from(x);
    }
    acc
}

/// Global norm from its sum of squares, and the factor that brings it down to `max` when it is
/// larger. The factor is applied inside the Adam step rather than by rescaling the gradients in
/// a pass of their own; x·k is the same number either way.
pub(super) fn clip_factor(sum_sq: f64, max: Option<f32>) -> (f32, Option<f32>) {
    let norm = sum_sq.sqrt() as f32;
    let k = match max {
        Some(max) if norm > max => Some(max / norm),
        _ => None,
    };
    (norm, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::lstm::Isa;

    /// The Adam step gives the same bits on every instruction set, clipped or not, over a length
    /// that leaves a tail after every vector width.
    #[test]
    fn adam_agrees_across_instruction_sets() {
        let mut rng = SplitMix64::new(11);
        let n = 203;
        let init: Vec<Vec<f32>> = (0..4)
            .map(|i| {
                (0..n)
                    .map(|_| rng.uniform(if i == 3 { 0.0 } else { 1.0 }).abs())
                    .collect()
            })
            .collect();
        for clip in [None, Some(0.37f32)] {
            let step = AdamStep {
                b1: 0.9,
                b2: 0.999,
                lr_t: 1e-3,
                eps_hat: 1e-7,
                clip,
            };
            let run = |isa: Isa| {
                let (mut w, g, mut m, mut v) = (
                    init[0].clone(),
                    init[1].clone(),
                    init[2].clone(),
                    init[3].clone(),
                );
                for _ in 0..3 {
                    adam_slices_on(isa, &mut w, &g, &mut m, &mut v, step);
                }
                [w, m, v].map(|x| x.iter().map(|f| f.to_bits()).collect::<Vec<_>>())
            };
            let want = run(Isa::Plain);
            assert_eq!(run(Isa::Wide), want, "clip {clip:?}");
            assert_eq!(run(Isa::Avx2), want, "clip {clip:?}");
            // And the scalar formula itself, so the shared body cannot drift unnoticed.
            let (w0, g0, m0) = (init[0][5], init[1][5] * clip.unwrap_or(1.0), init[2][5]);
            let m1 = 0.9 * m0 + (1.0 - 0.9) * g0;
            let v1 = (1.0 - 0.999) * g0 * g0;
            let w1 = w0 - 1e-3 * m1 / (v1.sqrt() + 1e-7);
            let (mut w, mut m, mut v) = (vec![w0], vec![m0], vec![0.0]);
            adam_slices(&mut w, &[init[1][5]], &mut m, &mut v, step);
            assert_eq!((w[0], m[0], v[0]), (w1, m1, v1));
        }
    }
}
