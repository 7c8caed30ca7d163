//! Margin losses ℓ(m) of a binary linear classifier, m = y(w·x + b), with the derivatives the
//! trainers and the influence attack need and the conjugate the duality gap needs.

use crate::error::{Error, Result};

/// A loss of the margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// max(0, 1 − m): the SVM's hinge.
    Hinge,
    /// log(1 + exp(−m)): logistic regression.
    Logistic,
    /// t·log(1 + exp((1 − m)/t)): a smoothed hinge, → hinge as t → 0 (the reference's influence
    /// attack uses t = 0.001).
    SmoothHinge {
        /// The smoothing temperature t > 0.
        t: f64,
    },
}

/// log(1 + exp(z)) without overflow.
#[inline]
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// 1 / (1 + exp(−z)) without overflow.
#[inline]
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// a·ln a + (1 − a)·ln(1 − a), with 0·ln 0 = 0 (the negative binary entropy).
#[inline]
fn neg_entropy(a: f64) -> f64 {
    let xlnx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
    xlnx(a) + xlnx(1.0 - a)
}

impl Loss {
    /// Parses `hinge`, `logistic` or `smooth-hinge` (the latter with temperature `t`).
    pub fn parse(name: &str, t: Option<f64>) -> Result<Self> {
        match name {
            "hinge" => Ok(Loss::Hinge),
            "logistic" => Ok(Loss::Logistic),
            "smooth-hinge" => {
                let t = t.unwrap_or(0.001);
                if t > 0.0 && t.is_finite() {
                    Ok(Loss::SmoothHinge { t })
                } else {
                    Err(Error::option("temperature", t, "must be a positive number"))
                }
            }
            _ => Err(Error::option(
                "loss",
                name,
                "must be one of hinge, logistic, smooth-hinge",
            )),
        }
    }

    /// The loss's name as `parse` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Hinge => "hinge",
            Loss::Logistic => "logistic",
            Loss::SmoothHinge { .. } => "smooth-hinge",
        }
    }

    /// ℓ(m).
    #[inline]
    pub fn value(&self, m: f64) -> f64 {
        match *self {
            Loss::Hinge => (1.0 - m).max(0.0),
            Loss::Logistic => softplus(-m),
            Loss::SmoothHinge { t } => t * softplus((1.0 - m) / t),
        }
    }

    /// ℓ'(m) (for the hinge, the subgradient −1 for m < 1 and 0 otherwise).
    #[inline]
    pub fn derivative(&self, m: f64) -> f64 {
        match *self {
            Loss::Hinge => {
                if m < 1.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Loss::Logistic => -sigmoid(-m),
            Loss::SmoothHinge { t } => -sigmoid((1.0 - m) / t),
        }
    }

    /// ℓ''(m); zero for the hinge (which has no second derivative at m = 1).
    #[inline]
    pub fn second_derivative(&self, m: f64) -> f64 {
        match *self {
            Loss::Hinge => 0.0,
            Loss::Logistic => {
                let s = sigmoid(-m);
                s * (1.0 - s)
            }
            Loss::SmoothHinge { t } => {
                let s = sigmoid((1.0 - m) / t);
                s * (1.0 - s) / t
            }
        }
    }

    /// ℓ*(−a) for a ∈ [0, 1], the convex conjugate at −a, used by the dual objective.
    #[inline]
    pub fn conjugate_neg(&self, a: f64) -> f64 {
        match *self {
            Loss::Hinge => -a,
            Loss::Logistic => neg_entropy(a),
            Loss::SmoothHinge { t } => -a + t * neg_entropy(a),
        }
    }

    /// True for losses with a second derivative everywhere (trained by Newton-CG).
    pub fn is_smooth(&self) -> bool {
        !matches!(self, Loss::Hinge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn derivatives_match_finite_differences() {
        for loss in [
            Loss::Logistic,
            Loss::SmoothHinge { t: 0.3 },
            Loss::SmoothHinge { t: 1e-3 },
        ] {
            for &m in &[-3.0, 0.2, 0.999, 1.0, 1.5, 40.0] {
                let t = if let Loss::SmoothHinge { t } = loss { t } else { 1.0 };
                let h = 1e-4 * t;
                let fd1 = (loss.value(m + h) - loss.value(m - h)) / (2.0 * h);
                let fd2 = (loss.derivative(m + h) - loss.derivative(m - h)) / (2.0 * h);
                assert_relative_eq!(loss.derivative(m), fd1, epsilon = 1e-6, max_relative = 1e-5);
                assert_relative_eq!(loss.second_derivative(m), fd2, epsilon = 1e-4, max_relative = 1e-4);
            }
        }
    }

    #[test]
    fn fenchel_young_is_tight_at_the_derivative() {
        // ℓ(m) + ℓ*(−a) ≥ −a·m, with equality at a = −ℓ'(m).
        for loss in [Loss::Hinge, Loss::Logistic, Loss::SmoothHinge { t: 0.1 }] {
            for &m in &[-2.0, 0.5, 0.9, 3.0] {
                let a = -loss.derivative(m);
                assert_relative_eq!(loss.value(m) + loss.conjugate_neg(a), -a * m, epsilon = 1e-12);
                for b in [0.0, 0.3, 1.0] {
                    assert!(loss.value(m) + loss.conjugate_neg(b) >= -b * m - 1e-12);
                }
            }
        }
    }

    #[test]
    fn smooth_hinge_tends_to_hinge() {
        let s = Loss::SmoothHinge { t: 1e-4 };
        for &m in &[-1.0, 0.5, 2.0] {
            assert!((s.value(m) - Loss::Hinge.value(m)).abs() < 1e-3);
        }
        assert_eq!(
            Loss::parse("smooth-hinge", Some(-1.0)).unwrap_err().code(),
            "ERR_INVALID_OPTION"
        );
    }
}
