//! Fitting a health model to churn history (`churnlake calibrate`), in memory and in plain
//! Rust: the observations arrive as columns, and the results leave as rows for the
//! `metric_cohorts`, `model_evaluation` and `model_features` tables.
//!
//! The procedure ("Fighting Churn With Data", chapters 5–9):
//! 1. split the observation dates in time: the latest `test_share` of them test, the rest
//!    train ([`split_dates`]); nothing of a test date is seen before testing;
//! 2. prepare each feature on the training rows ([`transform`]);
//! 3. choose the L2 penalty by the same split inside the training dates: fit on their
//!    earlier part, keep the penalty with the lowest log loss on the later part;
//! 4. refit on every training date with that penalty ([`logistic`]);
//! 5. evaluate the current model and the new one on train and test ([`evaluate`]).
//!
//! The new model's score is 50 at the training churn rate and falls
//! `points_per_doubling` points per doubling of the churn odds ([`score_of`]); green is a
//! churn risk at most the training rate (score ≥ 50), yellow up to twice its odds, red
//! beyond. Each model's share of green observations is reported beside its surprise-churn
//! rate: fewer greens make fewer surprises.

pub mod evaluate;
pub mod logistic;
pub mod transform;

use evaluate::Cohort;
use logistic::{Fit, sigmoid};
use std::collections::BTreeSet;
use transform::Transform;

/// What calibrate observed: one row per account and observation date, as columns.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub accounts: Vec<String>,
    /// Observation date per row (days since 1970-01-01).
    pub days: Vec<i32>,
    pub churned: Vec<bool>,
    /// `[feature][row]`: each feature's raw value on the observation date.
    pub features: Vec<Vec<Option<f64>>>,
    /// The current model's score on the observation date.
    pub current_score: Vec<Option<f64>>,
    /// For a churner: whether it had a customer row `lead_days` before its churn, that
    /// row's band under the current model, and its features there.
    pub has_lead: Vec<bool>,
    pub lead_band: Vec<Option<String>>,
    pub lead_features: Vec<Vec<Option<f64>>>,
}

/// How calibrate fits (from `[calibration]` and the current model).
#[derive(Debug, Clone)]
pub struct Settings {
    pub test_share: f64,
    pub penalties: Vec<f64>,
    pub skew_threshold: f64,
    pub points_per_doubling: f64,
    /// The current model's bands.
    pub green_at: f64,
    pub yellow_at: f64,
}

/// The new model.
#[derive(Debug, Clone)]
pub struct Model {
    pub transforms: Vec<Transform>,
    pub fit: Fit,
    pub penalty: f64,
    /// The training churn rate: the probability scoring 50.
    pub base_rate: f64,
    pub points_per_doubling: f64,
    pub green_at: f64,
    pub yellow_at: f64,
}

impl Model {
    pub fn probability(&self, raw: &[Option<f64>]) -> f64 {
        sigmoid(self.log_odds(raw))
    }

    pub fn log_odds(&self, raw: &[Option<f64>]) -> f64 {
        let row: Vec<f64> = self
            .transforms
            .iter()
            .zip(raw)
            .map(|(t, v)| t.apply(*v))
            .collect();
        self.fit.log_odds(&row)
    }

    pub fn score(&self, raw: &[Option<f64>]) -> f64 {
        score_of(self.log_odds(raw), self.base_rate, self.points_per_doubling)
    }

    pub fn band(&self, score: f64) -> &'static str {
        band_of(score, self.green_at, self.yellow_at)
    }
}

/// The 0–100 score of the log-odds of churn: 50 at `base_rate`, `points_per_doubling`
/// fewer per doubling of the odds, clamped (the SQL of `marts::health` computes the same).
pub fn score_of(log_odds: f64, base_rate: f64, points_per_doubling: f64) -> f64 {
    let base = (base_rate / (1.0 - base_rate)).ln();
    let points = points_per_doubling / std::f64::consts::LN_2;
    (50.0 - points * (log_odds - base)).clamp(0.0, 100.0)
}

pub fn band_of(score: f64, green_at: f64, yellow_at: f64) -> &'static str {
    if score >= green_at {
        "green"
    } else if score >= yellow_at {
        "yellow"
    } else {
        "red"
    }
}

/// The training and test dates: the latest `test_share` of the dates (at least one) test.
pub fn split_dates(days: &[i32], test_share: f64) -> Result<(Vec<i32>, Vec<i32>), String> {
    let dates: Vec<i32> = days
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if dates.len() < 3 {
        return Err(format!(
            "{} observation date(s); calibration needs at least 3 (training, validation and \
             test periods): widen --from/--to",
            dates.len()
        ));
    }
    let test = ((dates.len() as f64 * test_share).ceil() as usize).clamp(1, dates.len() - 2);
    let (train, test) = dates.split_at(dates.len() - test);
    Ok((train.to_vec(), test.to_vec()))
}

/// One row of `model_evaluation`.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// `current` or `calibrated`.
    pub model: &'static str,
    pub split: &'static str,
    pub observations: usize,
    pub churners: usize,
    pub auc: Option<f64>,
    pub log_loss: Option<f64>,
    pub brier: Option<f64>,
    pub lift_top_decile: Option<f64>,
    pub surprise_churn_rate: Option<f64>,
    /// The share of observations green on their observation date: how many accounts the
    /// model calls healthy, against which surprise churn is judged.
    pub green_share: Option<f64>,
}

/// One row of `model_features`.
#[derive(Debug, Clone)]
pub struct FeatureWeight {
    pub model: &'static str,
    pub feature: usize,
    /// The change in the log-odds of churn per standard deviation (calibrated only).
    pub coefficient: Option<f64>,
    /// Share of the model's weight: |coefficient| over their sum, or the component's weight
    /// over the weights' sum.
    pub weight_share: f64,
    /// AUC of the raw feature alone on the training rows, higher values as riskier.
    pub auc_alone: Option<f64>,
}

/// Everything calibrate learned.
#[derive(Debug, Clone)]
pub struct Calibrated {
    pub train_dates: Vec<i32>,
    pub test_dates: Vec<i32>,
    /// (penalty, validation log loss) for each penalty tried.
    pub penalties: Vec<(f64, Option<f64>)>,
    pub model: Model,
    pub evaluations: Vec<Evaluation>,
    pub weights: Vec<FeatureWeight>,
    /// Per feature, its cohorts over every observation.
    pub cohorts: Vec<Vec<Cohort>>,
}

/// Rows whose date is in `dates`.
fn rows_in(obs: &Observations, dates: &[i32]) -> Vec<usize> {
    let dates: BTreeSet<i32> = dates.iter().copied().collect();
    (0..obs.days.len())
        .filter(|r| dates.contains(&obs.days[*r]))
        .collect()
}

fn prepared(obs: &Observations, transforms: &[Transform], rows: &[usize]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| {
            transforms
                .iter()
                .zip(&obs.features)
                .map(|(t, f)| t.apply(f[*r]))
                .collect()
        })
        .collect()
}

fn labels(obs: &Observations, rows: &[usize]) -> Vec<bool> {
    rows.iter().map(|r| obs.churned[*r]).collect()
}

fn raw_row(features: &[Vec<Option<f64>>], row: usize) -> Vec<Option<f64>> {
    features.iter().map(|f| f[row]).collect()
}

/// Fits and evaluates (see the module documentation). `component_weights` are the current
/// model's weight per feature where the feature is one of its components.
pub fn calibrate(
    obs: &Observations,
    settings: &Settings,
    component_weights: &[Option<f64>],
) -> Result<Calibrated, String> {
    if obs.features.is_empty() {
        return Err("no features to fit; name them in [calibration] features".into());
    }
    let (train_dates, test_dates) = split_dates(&obs.days, settings.test_share)?;
    let train = rows_in(obs, &train_dates);
    let test = rows_in(obs, &test_dates);
    let train_labels = labels(obs, &train);
    let churners = train_labels.iter().filter(|c| **c).count();
    if churners == 0 || churners == train.len() {
        return Err(format!(
            "the training dates hold {} observations and {churners} churners; a model needs \
             both churners and retained accounts",
            train.len()
        ));
    }
    let transforms: Vec<Transform> = obs
        .features
        .iter()
        .map(|f| {
            let values: Vec<Option<f64>> = train.iter().map(|r| f[*r]).collect();
            Transform::learn(&values, settings.skew_threshold)
        })
        .collect();

    // The penalty, by time inside the training dates.
    let (inner, validation) = split_validation(&train_dates, settings.test_share);
    let inner_rows = rows_in(obs, &inner);
    let validation_rows = rows_in(obs, &validation);
    let inner_x = prepared(obs, &transforms, &inner_rows);
    let inner_y = labels(obs, &inner_rows);
    let validation_x = prepared(obs, &transforms, &validation_rows);
    let validation_y = labels(obs, &validation_rows);
    let mut penalties = Vec::new();
    let mut best: Option<(f64, f64)> = None;
    for &penalty in &settings.penalties {
        let loss = logistic::fit(&inner_x, &inner_y, penalty)
            .ok()
            .and_then(|fit| {
                let p: Vec<f64> = validation_x
                    .iter()
                    .map(|row| sigmoid(fit.log_odds(row)))
                    .collect();
                evaluate::log_loss(&p, &validation_y)
            });
        penalties.push((penalty, loss));
        if let Some(loss) = loss
            && best.is_none_or(|(_, l)| loss < l)
        {
            best = Some((penalty, loss));
        }
    }
    let penalty = best
        .map(|(p, _)| p)
        .ok_or("no penalty gave a fit on the earlier training dates")?;
    let train_x = prepared(obs, &transforms, &train);
    let fit = logistic::fit(&train_x, &train_labels, penalty)?;
    let base_rate = churners as f64 / train.len() as f64;
    let model = Model {
        transforms,
        fit,
        penalty,
        base_rate,
        points_per_doubling: settings.points_per_doubling,
        // Green: at most the training churn odds; yellow: up to twice them.
        green_at: 50.0,
        yellow_at: 50.0 - settings.points_per_doubling,
    };

    let current_scores: Vec<f64> = obs
        .current_score
        .iter()
        .map(|s| s.unwrap_or(50.0))
        .collect();

    // The current model's score as a probability (Platt scaling on the training rows), for
    // its log loss and Brier score.
    let scaled = |r: &usize| vec![(current_scores[*r] - 50.0) / 10.0];
    let platt = logistic::fit(
        &train.iter().map(scaled).collect::<Vec<_>>(),
        &train_labels,
        1e-6,
    )
    .ok();
    let mut evaluations = Vec::new();
    for (split, rows) in [("train", &train), ("test", &test)] {
        let y = labels(obs, rows);
        let current_risk: Vec<f64> = rows.iter().map(|r| -current_scores[*r]).collect();
        let current_p: Option<Vec<f64>> = platt.as_ref().map(|fit| {
            rows.iter()
                .map(|r| sigmoid(fit.log_odds(&scaled(r))))
                .collect()
        });
        let surprise = |green: &dyn Fn(usize) -> bool| -> Option<f64> {
            let churners: Vec<usize> = rows.iter().copied().filter(|r| obs.churned[*r]).collect();
            (!churners.is_empty()).then(|| {
                churners.iter().filter(|r| green(**r)).count() as f64 / churners.len() as f64
            })
        };
        let share = |green: &dyn Fn(usize) -> bool| -> Option<f64> {
            (!rows.is_empty())
                .then(|| rows.iter().filter(|r| green(**r)).count() as f64 / rows.len() as f64)
        };
        evaluations.push(Evaluation {
            model: "current",
            split,
            observations: rows.len(),
            churners: y.iter().filter(|c| **c).count(),
            auc: evaluate::auc(&current_risk, &y),
            log_loss: current_p.as_ref().and_then(|p| evaluate::log_loss(p, &y)),
            brier: current_p.as_ref().and_then(|p| evaluate::brier(p, &y)),
            lift_top_decile: evaluate::lift_top_decile(&current_risk, &y),
            surprise_churn_rate: surprise(&|r| {
                obs.has_lead[r] && obs.lead_band[r].as_deref() == Some("green")
            }),
            green_share: share(&|r| {
                band_of(current_scores[r], settings.green_at, settings.yellow_at) == "green"
            }),
        });
        let p: Vec<f64> = rows
            .iter()
            .map(|r| model.probability(&raw_row(&obs.features, *r)))
            .collect();
        evaluations.push(Evaluation {
            model: "calibrated",
            split,
            observations: rows.len(),
            churners: y.iter().filter(|c| **c).count(),
            auc: evaluate::auc(&p, &y),
            log_loss: evaluate::log_loss(&p, &y),
            brier: evaluate::brier(&p, &y),
            lift_top_decile: evaluate::lift_top_decile(&p, &y),
            surprise_churn_rate: surprise(&|r| {
                obs.has_lead[r]
                    && model.band(model.score(&raw_row(&obs.lead_features, r))) == "green"
            }),
            green_share: share(&|r| model.band(model.score(&raw_row(&obs.features, r))) == "green"),
        });
    }

    let total_coefficients: f64 = model.fit.coefficients.iter().map(|b| b.abs()).sum();
    let total_weights: f64 = component_weights.iter().flatten().sum();
    let mut weights = Vec::new();
    for (feature, values) in obs.features.iter().enumerate() {
        let present: Vec<(f64, bool)> = train
            .iter()
            .filter_map(|r| values[*r].map(|v| (v, obs.churned[*r])))
            .collect();
        let (risk, y): (Vec<f64>, Vec<bool>) = present.into_iter().unzip();
        let auc_alone = evaluate::auc(&risk, &y);
        if let Some(weight) = component_weights.get(feature).copied().flatten() {
            weights.push(FeatureWeight {
                model: "current",
                feature,
                coefficient: None,
                weight_share: weight / total_weights.max(f64::MIN_POSITIVE),
                auc_alone,
            });
        }
        let coefficient = model.fit.coefficients[feature];
        weights.push(FeatureWeight {
            model: "calibrated",
            feature,
            coefficient: Some(coefficient),
            weight_share: coefficient.abs() / total_coefficients.max(f64::MIN_POSITIVE),
            auc_alone,
        });
    }
    let cohorts = obs
        .features
        .iter()
        .map(|values| evaluate::deciles(values, &obs.churned))
        .collect();
    Ok(Calibrated {
        train_dates,
        test_dates,
        penalties,
        model,
        evaluations,
        weights,
        cohorts,
    })
}

/// The training dates split again for choosing the penalty: the later part validates.
fn split_validation(train: &[i32], share: f64) -> (Vec<i32>, Vec<i32>) {
    let validation = ((train.len() as f64 * share).ceil() as usize).clamp(1, train.len() - 1);
    let (inner, later) = train.split_at(train.len() - validation);
    (inner.to_vec(), later.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_dates_test_and_never_train() {
        let days = [5, 1, 3, 2, 4, 5, 1, 6, 7, 8, 9, 10];
        let (train, test) = split_dates(&days, 0.3).unwrap();
        assert_eq!(train, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(test, vec![8, 9, 10]);
        // The penalty is chosen inside the training dates, on their later part.
        assert_eq!(
            split_validation(&train, 0.3),
            (vec![1, 2, 3, 4], vec![5, 6, 7])
        );
        assert!(split_dates(&[1, 2, 1], 0.3).is_err());
    }

    /// Churn follows a feature on some dates; the test rows' feature is then scrambled: a
    /// model that saw the test rows would fit them, this one scores them at chance, and the
    /// training rows still fit.
    #[test]
    fn test_rows_play_no_part_in_the_fit() {
        let mut obs = Observations::default();
        let mut feature = Vec::new();
        for day in 0..10 {
            for account in 0..40 {
                let usage = f64::from(account % 10);
                let churned = usage < 3.0;
                obs.days.push(day);
                // On the test dates (7, 8, 9) churn runs against usage.
                obs.churned.push(if day >= 7 { !churned } else { churned });
                feature.push(Some(usage));
                obs.current_score.push(Some(50.0));
                obs.has_lead.push(false);
                obs.lead_band.push(None);
            }
        }
        obs.features = vec![feature.clone()];
        obs.lead_features = vec![feature];
        let settings = Settings {
            test_share: 0.3,
            penalties: vec![0.1, 1.0],
            skew_threshold: 4.0,
            points_per_doubling: 10.0,
            green_at: 70.0,
            yellow_at: 40.0,
        };
        let calibrated = calibrate(&obs, &settings, &[Some(1.0)]).unwrap();
        assert_eq!(calibrated.test_dates, vec![7, 8, 9]);
        let auc = |model: &str, split: &str| {
            calibrated
                .evaluations
                .iter()
                .find(|e| e.model == model && e.split == split)
                .and_then(|e| e.auc)
                .unwrap()
        };
        assert!(auc("calibrated", "train") > 0.95);
        assert!(auc("calibrated", "test") < 0.05);
        assert!(calibrated.model.fit.coefficients[0] < 0.0);
    }

    #[test]
    fn scores_follow_the_odds_against_the_base_rate() {
        let logit = |p: f64| (p / (1.0 - p)).ln();
        assert!((score_of(logit(0.1), 0.1, 10.0) - 50.0).abs() < 1e-9);
        // Odds 1/9 → 3/9 is a factor 3: log2(3) doublings, 15.8 points.
        let score = score_of(logit(0.25), 0.1, 10.0);
        assert!((score - (50.0 - 10.0 * 3f64.log2())).abs() < 1e-9);
        assert_eq!(score_of(logit(0.999_999), 0.1, 10.0), 0.0);
    }
}
