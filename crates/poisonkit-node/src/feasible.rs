//! `FeasibleSet` (per-class constraint sets, solved off the JS thread) and randomized rounding.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use poisonkit_core::feasible::{self, FeasibleOptions, Method, Repeats, Upper};

use crate::dataset::{Dataset, check_len};
use crate::guard::{count, guard, js_error};

#[napi(object)]
#[derive(Default)]
pub struct FeasibleSetOptions {
    pub percentile: Option<f64>,
    pub sphere: Option<bool>,
    pub slab: Option<bool>,
    pub nonnegative: Option<bool>,
    /// A number, "column-max" (the Python reference's X_max rule) or "data-range" (the MATLAB min-max's).
    pub upper: Option<Either<f64, String>>,
    pub lp_relaxation: Option<bool>,
}

#[napi(object)]
pub struct ClassConstraints {
    pub label: i32,
    pub centroid: Float64Array,
    pub sphere_radius: Option<f64>,
    pub slab_radius: Option<f64>,
    pub halfspaces: u32,
}

#[napi(object)]
pub struct SetSolution {
    pub x: Float64Array,
    pub solver: String,
    pub value: f64,
    pub status: String,
    pub iterations: u32,
    pub residual: f64,
}

/// Per-class feasible sets held in native memory; changes copy the sets a running solve uses.
#[napi]
pub struct FeasibleSet {
    pub(crate) inner: Arc<feasible::FeasibleSet>,
}

#[napi]
impl FeasibleSet {
    #[napi(factory)]
    pub fn from_clean(clean: &Dataset, options: Option<FeasibleSetOptions>) -> Result<FeasibleSet> {
        let o = options.unwrap_or_default();
        let def = FeasibleOptions::default();
        let upper = parse_upper(o.upper)?.unwrap_or(Upper::None);
        let options = FeasibleOptions {
            percentile: o.percentile.unwrap_or(def.percentile),
            sphere: o.sphere.unwrap_or(def.sphere),
            slab: o.slab.unwrap_or(def.slab),
            nonnegative: o.nonnegative,
            upper,
            lp_relaxation: o.lp_relaxation.unwrap_or(def.lp_relaxation),
        };
        let set = guard(|| feasible::FeasibleSet::from_clean(&clean.inner, &options))?;
        Ok(FeasibleSet { inner: Arc::new(set) })
    }

    #[napi(getter)]
    pub fn d(&self) -> u32 {
        self.inner.d() as u32
    }

    #[napi(getter)]
    pub fn lp_relaxation(&self) -> bool {
        self.inner.lp_relaxation()
    }

    #[napi(getter)]
    pub fn classes(&self) -> Vec<ClassConstraints> {
        self.inner
            .classes()
            .iter()
            .map(|c| ClassConstraints {
                label: c.label,
                centroid: Float64Array::new(c.centroid.clone()),
                sphere_radius: c.sphere_radius,
                slab_radius: c.slab.as_ref().map(|s| s.1),
                halfspaces: c.halfspaces.len() as u32,
            })
            .collect()
    }

    /// Sets class y's sphere radius (null removes the sphere).
    #[napi]
    pub fn set_sphere_radius(&mut self, label: i32, radius: Option<f64>) -> Result<()> {
        if let Some(r) = radius
            && !(r >= 0.0 && r.is_finite())
        {
            return Err(js_error(
                "ERR_INVALID_OPTION",
                format!("option sphereRadius = {r}: must be a finite number ≥ 0"),
            ));
        }
        let set = Arc::make_mut(&mut self.inner);
        guard(|| set.class_mut(label).map(|c| c.sphere_radius = radius))
    }

    /// Sets class y's slab radius (the slab must exist: fitted with slab: true).
    #[napi]
    pub fn set_slab_radius(&mut self, label: i32, radius: f64) -> Result<()> {
        if !(radius >= 0.0 && radius.is_finite()) {
            return Err(js_error(
                "ERR_INVALID_OPTION",
                format!("option slabRadius = {radius}: must be a finite number ≥ 0"),
            ));
        }
        let set = Arc::make_mut(&mut self.inner);
        let class = guard(|| set.class_mut(label))?;
        match &mut class.slab {
            Some(slab) => {
                slab.1 = radius;
                Ok(())
            }
            None => Err(js_error(
                "ERR_INVALID_OPTION",
                format!("class {label} has no slab (fit the set with slab: true)"),
            )),
        }
    }

    /// Sets class y's centroid μ_y.
    #[napi]
    pub fn set_centroid(&mut self, label: i32, centroid: Float64Array) -> Result<()> {
        check_len("centroid (number of features)", self.inner.d(), centroid.len())?;
        if centroid.iter().any(|v| !v.is_finite()) {
            return Err(js_error("ERR_NON_FINITE", "centroid: non-finite value"));
        }
        let set = Arc::make_mut(&mut self.inner);
        guard(|| set.class_mut(label).map(|c| c.centroid = centroid.to_vec()))
    }

    /// Adds the decoy-loss cap 1 − y(θ·x + b) ≤ τ to class y.
    #[napi]
    pub fn add_loss_cap(&mut self, label: i32, theta: Float64Array, bias: f64, tau: f64) -> Result<()> {
        let set = Arc::make_mut(&mut self.inner);
        guard(|| set.add_loss_cap(label, &theta, bias, tau))
    }

    /// Adds the halfspace a·x ≤ b to class y.
    #[napi]
    pub fn add_halfspace(&mut self, label: i32, a: Float64Array, b: f64) -> Result<()> {
        let set = Arc::make_mut(&mut self.inner);
        guard(|| set.add_halfspace(label, a.to_vec(), b))
    }

    /// The largest constraint violation of x for class y (≤ 0 inside).
    #[napi]
    pub fn violation(&self, x: Float64Array, label: i32) -> Result<f64> {
        guard(|| self.inner.violation(&x, label))
    }

    /// `method`: "fast" (the default) or "conic" (Clarabel).
    #[napi(ts_return_type = "Promise<SetSolution>")]
    pub fn project(&self, x0: Float64Array, label: i32, method: Option<String>) -> Result<AsyncTask<SolveTask>> {
        self.task(Goal::Project, x0, label, method)
    }

    /// `method`: "fast" (the default) or "conic" (Clarabel).
    #[napi(ts_return_type = "Promise<SetSolution>")]
    pub fn minimize_linear(&self, c: Float64Array, label: i32, method: Option<String>) -> Result<AsyncTask<SolveTask>> {
        self.task(Goal::MinimizeLinear, c, label, method)
    }
}

#[napi]
impl FeasibleSet {
    /// The KKT attack's program: argmin ‖g − ε₊x₊ + ε₋x₋‖ over x₊ in the +1 set, x₋ in the −1 set.
    #[napi(ts_return_type = "Promise<KktSolution>")]
    /// `method`: "fast" (the default) or "conic" (Clarabel).
    pub fn kkt_program(
        &self,
        g: Float64Array,
        eps_pos: f64,
        eps_neg: f64,
        method: Option<String>,
    ) -> Result<AsyncTask<KktTask>> {
        Ok(AsyncTask::new(KktTask {
            set: self.inner.clone(),
            g: g.to_vec(),
            eps: (eps_pos, eps_neg),
            method: parse_method(method)?,
        }))
    }
}

#[napi(object)]
pub struct KktSolution {
    pub x_pos: Float64Array,
    pub x_neg: Float64Array,
    pub value: f64,
    pub solver: String,
    pub status: String,
    pub iterations: u32,
    pub residual: f64,
}

pub struct KktTask {
    set: Arc<feasible::FeasibleSet>,
    g: Vec<f64>,
    eps: (f64, f64),
    method: Method,
}

#[napi]
impl Task for KktTask {
    type Output = feasible::KktSolution;
    type JsValue = KktSolution;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| {
            self.set
                .kkt_program_with(&self.g, self.eps.0, self.eps.1, self.method, feasible::KKT_GAP_TOL)
        })
    }

    fn resolve(&mut self, _env: Env, s: Self::Output) -> Result<Self::JsValue> {
        Ok(KktSolution {
            x_pos: Float64Array::new(s.x_pos),
            x_neg: Float64Array::new(s.x_neg),
            value: s.value,
            solver: s.report.solver.to_string(),
            status: s.report.status,
            iterations: s.report.iterations,
            residual: s.report.residual,
        })
    }
}

impl FeasibleSet {
    fn task(
        &self,
        goal: Goal,
        vector: Float64Array,
        label: i32,
        method: Option<String>,
    ) -> Result<AsyncTask<SolveTask>> {
        Ok(AsyncTask::new(SolveTask {
            set: self.inner.clone(),
            goal,
            vector: vector.to_vec(),
            label,
            method: parse_method(method)?,
        }))
    }
}

/// The `upper` option: a number, "column-max" (the Python reference's X_max rule) or "data-range"
/// (the MATLAB min-max's); None when absent.
pub(crate) fn parse_upper(upper: Option<Either<f64, String>>) -> Result<Option<Upper>> {
    match upper {
        None => Ok(None),
        Some(Either::A(u)) => Ok(Some(Upper::Constant(u))),
        Some(Either::B(s)) if s == "column-max" => Ok(Some(Upper::ColumnMax)),
        Some(Either::B(s)) if s == "data-range" => Ok(Some(Upper::DataRange)),
        Some(Either::B(s)) => Err(js_error(
            "ERR_INVALID_OPTION",
            format!("option upper = {s}: must be a number, \"column-max\" or \"data-range\""),
        )),
    }
}

/// The `method` option: "fast" (the default) or "conic".
fn parse_method(method: Option<String>) -> Result<Method> {
    match method.as_deref() {
        None | Some("fast") => Ok(Method::Fast),
        Some("conic") => Ok(Method::Conic),
        Some(other) => Err(js_error(
            "ERR_INVALID_OPTION",
            format!("option method = {other}: must be one of fast, conic"),
        )),
    }
}

/// What a [`SolveTask`] computes.
enum Goal {
    Project,
    MinimizeLinear,
}

pub struct SolveTask {
    set: Arc<feasible::FeasibleSet>,
    goal: Goal,
    vector: Vec<f64>,
    label: i32,
    method: Method,
}

#[napi]
impl Task for SolveTask {
    type Output = feasible::Solution;
    type JsValue = SetSolution;

    fn compute(&mut self) -> Result<Self::Output> {
        guard(|| match self.goal {
            Goal::Project => self.set.project_with(&self.vector, self.label, self.method),
            Goal::MinimizeLinear => self.set.minimize_linear_with(&self.vector, self.label, self.method),
        })
    }

    fn resolve(&mut self, _env: Env, s: Self::Output) -> Result<Self::JsValue> {
        Ok(SetSolution {
            x: Float64Array::new(s.x),
            solver: s.report.solver.to_string(),
            value: s.value,
            status: s.report.status,
            iterations: s.report.iterations,
            residual: s.report.residual,
        })
    }
}

/// Randomized rounding: ⌊x⌋ + Bernoulli(x − ⌊x⌋) per value, each point repeated `repeats` times
/// (one rounding copied, or independent roundings).
#[napi]
pub fn round_points(
    points: &Dataset,
    repeats: Option<f64>,
    independent: Option<bool>,
    seed: Option<f64>,
) -> Result<Dataset> {
    let r = count("repeats", repeats.unwrap_or(1.0))?;
    let mode = if independent.unwrap_or(false) {
        Repeats::Independent(r)
    } else {
        Repeats::Shared(r)
    };
    let seed = count("seed", seed.unwrap_or(0.0))? as u64;
    guard(|| feasible::round_points(&points.inner, mode, seed)).map(Dataset::wrap)
}
