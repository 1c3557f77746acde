//! Adam on host arrays, with element-wise gradient clipping (Yang's recipe).
//!
//! The optimiser state is three plain vectors per parameter, so a checkpoint stores it exactly
//! and a resumed run continues bit for bit.

use serde::{Deserialize, Serialize};

use crate::model::ParamSet;

/// Adam hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSettings {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Clip each gradient element to [-clip, clip] first; 0 = no clipping.
    pub clip_value: f64,
}

/// First and second moments for every parameter, and the step count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamState {
    pub t: u64,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
}

impl AdamState {
    pub fn new(params: &ParamSet) -> Self {
        let zeros = || params.tensors.iter().map(|p| vec![0.0; p.len()]).collect();
        Self { t: 0, m: zeros(), v: zeros() }
    }

    /// Does this state fit `params` (same count and sizes)?
    pub fn fits(&self, params: &ParamSet) -> bool {
        self.m.len() == params.tensors.len()
            && self.v.len() == params.tensors.len()
            && params.tensors.iter().zip(&self.m).zip(&self.v).all(|((p, m), v)| p.len() == m.len() && p.len() == v.len())
    }

    /// One update of `params` with `grads` (same order and sizes).
    pub fn step(&mut self, settings: &AdamSettings, params: &mut ParamSet, grads: &[Vec<f32>]) {
        self.t += 1;
        let AdamSettings { learning_rate, beta1, beta2, epsilon, clip_value } = *settings;
        let t = self.t as i32;
        let bias1 = 1.0 - beta1.powi(t);
        let bias2 = 1.0 - beta2.powi(t);
        let step_size = (learning_rate / bias1) as f32;
        let inv_sqrt_bias2 = (1.0 / bias2.sqrt()) as f32;
        let (b1, b2, eps, clip) = (beta1 as f32, beta2 as f32, epsilon as f32, clip_value as f32);
        for (((p, g), m), v) in params.tensors.iter_mut().zip(grads).zip(&mut self.m).zip(&mut self.v) {
            for (((w, &gi), mi), vi) in p.data.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let gi = if clip > 0.0 { gi.clamp(-clip, clip) } else { gi };
                *mi = b1 * *mi + (1.0 - b1) * gi;
                *vi = b2 * *vi + (1.0 - b2) * gi * gi;
                *w -= step_size * *mi / (vi.sqrt() * inv_sqrt_bias2 + eps);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamTensor;

    #[test]
    fn first_step_moves_each_weight_by_lr_against_the_gradient_sign() {
        // At t = 1, m̂ = g and v̂ = g², so the update is lr·g/(|g| + eps) ≈ lr·sign(g).
        let mut params = ParamSet { tensors: vec![ParamTensor { name: "w".into(), shape: vec![3], data: vec![1.0, 1.0, 1.0] }] };
        let mut adam = AdamState::new(&params);
        let settings = AdamSettings { learning_rate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, clip_value: 1.0 };
        adam.step(&settings, &mut params, &[vec![5.0, -0.5, 0.0]]);
        let w = &params.tensors[0].data;
        assert!((w[0] - 0.99).abs() < 1e-6 && (w[1] - 1.01).abs() < 1e-6 && w[2] == 1.0, "{w:?}");
        // clipping: a gradient of 5 was clipped to 1 before entering the moments
        assert!((adam.m[0][0] - 0.1).abs() < 1e-6);
    }
}
