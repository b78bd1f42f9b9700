//! L2-regularised logistic regression, fitted by Newton's method (iteratively reweighted
//! least squares).
//!
//! Minimises Σᵢ log loss(yᵢ, σ(b + xᵢ·β)) + ½ λ ‖β‖²: the intercept `b` is not penalised.
//! This is scikit-learn's `LogisticRegression(C = 1 / λ)` objective, so the two agree on the
//! same rows. Each step solves (XᵀWX + λI)Δ = gradient, with W the diagonal of p(1 − p),
//! and halves the step while the objective does not fall; it stops when no coefficient
//! moves by more than 1e-9.

/// A fitted model: intercept and one coefficient per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub iterations: usize,
}

impl Fit {
    /// The log-odds of a row of features.
    pub fn log_odds(&self, row: &[f64]) -> f64 {
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(row)
                .map(|(b, x)| b * x)
                .sum::<f64>()
    }
}

pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

const MAX_ITERATIONS: usize = 100;
const TOLERANCE: f64 = 1e-9;

/// Fits `rows` (each of the same length) against `labels` with penalty `lambda`.
// Index loops read as the algebra they compute.
#[allow(clippy::needless_range_loop)]
pub fn fit(rows: &[Vec<f64>], labels: &[bool], lambda: f64) -> Result<Fit, String> {
    if rows.len() != labels.len() {
        return Err(format!("{} rows but {} labels", rows.len(), labels.len()));
    }
    if rows.is_empty() {
        return Err("no observations to fit".into());
    }
    let features = rows[0].len();
    if rows.iter().any(|r| r.len() != features) {
        return Err("rows of different lengths".into());
    }
    // Parameter 0 is the intercept, 1.. the coefficients.
    let size = features + 1;
    let mut beta = vec![0.0; size];
    let objective = |beta: &[f64]| -> f64 {
        let mut total = 0.0;
        for (row, &y) in rows.iter().zip(labels) {
            let z = beta[0] + row.iter().zip(&beta[1..]).map(|(x, b)| x * b).sum::<f64>();
            // log(1 + e^z) − y z, computed without overflow.
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            total += softplus - if y { z } else { 0.0 };
        }
        total + 0.5 * lambda * beta[1..].iter().map(|b| b * b).sum::<f64>()
    };
    let mut current = objective(&beta);
    for iteration in 1..=MAX_ITERATIONS {
        let mut gradient = vec![0.0; size];
        let mut hessian = vec![vec![0.0; size]; size];
        for (row, &y) in rows.iter().zip(labels) {
            let z = beta[0] + row.iter().zip(&beta[1..]).map(|(x, b)| x * b).sum::<f64>();
            let p = sigmoid(z);
            let residual = p - if y { 1.0 } else { 0.0 };
            let weight = p * (1.0 - p);
            let x = |j: usize| if j == 0 { 1.0 } else { row[j - 1] };
            for j in 0..size {
                gradient[j] += residual * x(j);
                let wx = weight * x(j);
                for (k, cell) in hessian[j].iter_mut().enumerate().take(j + 1) {
                    *cell += wx * x(k);
                }
            }
        }
        for j in 0..size {
            for k in 0..j {
                hessian[k][j] = hessian[j][k];
            }
            if j > 0 {
                gradient[j] += lambda * beta[j];
                hessian[j][j] += lambda;
            }
        }
        let step = solve(hessian, gradient).ok_or(
            "the features are collinear or separate churners perfectly; add a penalty \
             (calibration.penalties) or drop a feature",
        )?;
        let mut scale = 1.0;
        let mut next: Vec<f64>;
        loop {
            next = beta.iter().zip(&step).map(|(b, s)| b - scale * s).collect();
            let value = objective(&next);
            if value <= current || scale < 1e-6 {
                current = value;
                break;
            }
            scale /= 2.0;
        }
        let moved = beta
            .iter()
            .zip(&next)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        beta = next;
        if moved < TOLERANCE {
            return Ok(Fit {
                intercept: beta[0],
                coefficients: beta[1..].to_vec(),
                iterations: iteration,
            });
        }
    }
    Err(format!(
        "the fit did not converge in {MAX_ITERATIONS} iterations"
    ))
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky); `None` when `a` is not.
#[allow(clippy::needless_range_loop)]
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for j in 0..n {
        let mut diagonal = a[j][j];
        for k in 0..j {
            diagonal -= a[j][k] * a[j][k];
        }
        if diagonal <= 1e-12 * (1.0 + a[j][j].abs()) {
            return None;
        }
        let root = diagonal.sqrt();
        a[j][j] = root;
        for i in j + 1..n {
            let mut value = a[i][j];
            for k in 0..j {
                value -= a[i][k] * a[j][k];
            }
            a[i][j] = value / root;
        }
    }
    for i in 0..n {
        for k in 0..i {
            b[i] -= a[i][k] * b[k];
        }
        b[i] /= a[i][i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            b[i] -= a[k][i] * b[k];
        }
        b[i] /= a[i][i];
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two groups, one feature x ∈ {0, 1}: without a penalty the fit reproduces each group's
    /// churn rate exactly, so b = logit(1/4) and b + β = logit(3/4).
    #[test]
    fn an_unpenalised_fit_reproduces_the_group_rates() {
        let rows: Vec<Vec<f64>> = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
            .iter()
            .map(|x| vec![*x])
            .collect();
        let labels = [true, false, false, false, true, true, true, false];
        let fit = fit(&rows, &labels, 0.0).unwrap();
        let logit = |p: f64| (p / (1.0 - p)).ln();
        assert!((fit.intercept - logit(0.25)).abs() < 1e-9, "{fit:?}");
        assert!(
            (fit.coefficients[0] - (logit(0.75) - logit(0.25))).abs() < 1e-9,
            "{fit:?}"
        );
    }

    /// The penalised optimum sets the gradient to zero: Σ(p − y) = 0 for the intercept and
    /// Σ(p − y)x + λβ = 0 for the coefficient; here checked on a worked problem whose
    /// answer scikit-learn 1.x gives as b = −0.18998, β = 0.90110 (`LogisticRegression(C=1,
    /// tol=1e-12)`).
    #[test]
    fn a_penalised_fit_matches_the_known_optimum() {
        let xs = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0];
        let labels = [false, false, true, false, false, true, true, true];
        let rows: Vec<Vec<f64>> = xs.iter().map(|x| vec![*x]).collect();
        let fit = fit(&rows, &labels, 1.0).unwrap();
        let mut intercept_gradient = 0.0;
        let mut slope_gradient = fit.coefficients[0];
        for (x, y) in xs.iter().zip(labels) {
            let residual = sigmoid(fit.log_odds(&[*x])) - if y { 1.0 } else { 0.0 };
            intercept_gradient += residual;
            slope_gradient += residual * x;
        }
        assert!(intercept_gradient.abs() < 1e-9 && slope_gradient.abs() < 1e-9);
        assert!((fit.intercept - -0.18998).abs() < 1e-4, "{fit:?}");
        assert!((fit.coefficients[0] - 0.90110).abs() < 1e-4, "{fit:?}");
    }

    #[test]
    fn perfectly_separated_churners_need_a_penalty() {
        let rows: Vec<Vec<f64>> = [0.0, 1.0, 2.0, 3.0].iter().map(|x| vec![*x]).collect();
        let labels = [false, false, true, true];
        assert!(fit(&rows, &labels, 0.0).is_err());
        let penalised = fit(&rows, &labels, 0.1).unwrap();
        assert!(penalised.coefficients[0] > 0.0);
    }
}
