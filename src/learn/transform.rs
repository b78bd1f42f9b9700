//! How a feature enters the regression, as "Fighting Churn With Data" prepares metrics: a
//! skewed count of non-negative values is log-scaled (ln(1 + x)), then every feature is
//! standardised with the training mean and standard deviation; a missing value takes the
//! training mean (z = 0) and is counted. The same steps run in SQL when the model scores
//! (`marts::health`), so a value scores the same in both.

/// A feature's preparation, learned on the training observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub log: bool,
    /// Of the transformed values.
    pub mean: f64,
    pub std: f64,
    /// The transformed value a missing value takes.
    pub fill: f64,
    /// Training observations without a value.
    pub missing: usize,
    /// Skewness of the values present (before the log).
    pub skew: f64,
}

impl Transform {
    /// Learns the preparation of `values`; `skew_threshold` decides the log.
    pub fn learn(values: &[Option<f64>], skew_threshold: f64) -> Transform {
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let missing = values.len() - present.len();
        let skew = skewness(&present);
        let log = skew > skew_threshold && present.iter().all(|v| *v >= 0.0);
        let transformed: Vec<f64> = present.iter().map(|v| shape(*v, log)).collect();
        let (mean, std) = mean_std(&transformed);
        Transform {
            log,
            mean,
            // A constant feature standardises to 0 everywhere.
            std: if std > 0.0 { std } else { 1.0 },
            fill: mean,
            missing,
            skew,
        }
    }

    /// The standardised value of a raw value.
    pub fn apply(&self, value: Option<f64>) -> f64 {
        let shaped = value.map_or(self.fill, |v| shape(v, self.log));
        (shaped - self.mean) / self.std
    }
}

/// ln(1 + x) with x below 0 taken as 0 (as the SQL does), or x.
fn shape(value: f64, log: bool) -> f64 {
    if log { value.max(0.0).ln_1p() } else { value }
}

/// Population mean and standard deviation.
fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

/// The adjusted Fisher–Pearson skewness (pandas' `skew`); 0 for fewer than 3 values or
/// none that differ.
pub fn skewness(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 3 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n;
    let m2 = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = values.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    if m2 <= 0.0 {
        return 0.0;
    }
    let g1 = m3 / m2.powf(1.5);
    g1 * (n * (n - 1.0)).sqrt() / (n - 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skewed_count_is_logged_then_standardised_and_missing_values_take_the_mean() {
        // One large value among small ones: skewness above 4 at 30 values.
        let mut values: Vec<Option<f64>> = vec![Some(1.0); 29];
        values.push(Some(1000.0));
        values.push(None);
        let transform = Transform::learn(&values, 4.0);
        assert!(transform.log && transform.skew > 4.0, "{transform:?}");
        assert_eq!(transform.missing, 1);
        let logged_mean = (29.0 * 2f64.ln() + 1001f64.ln()) / 30.0;
        assert!((transform.mean - logged_mean).abs() < 1e-12);
        assert_eq!(transform.apply(None), 0.0);
        let z = transform.apply(Some(1.0));
        assert!((z - (2f64.ln() - logged_mean) / transform.std).abs() < 1e-12);
        // Negative values are never logged; a constant standardises to 0.
        let flat = Transform::learn(&[Some(-5.0), Some(-5.0), Some(-5.0)], 4.0);
        assert!(!flat.log);
        assert_eq!(flat.apply(Some(-5.0)), 0.0);
    }

    #[test]
    fn skewness_matches_pandas() {
        // pandas.Series([1, 2, 3, 10]).skew() = scipy.stats.skew(…, bias=False) = 1.76363…
        assert!((skewness(&[1.0, 2.0, 3.0, 10.0]) - 1.763_632_6).abs() < 1e-6);
        assert_eq!(skewness(&[4.0, 4.0, 4.0]), 0.0);
    }
}
