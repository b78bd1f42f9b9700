//! The analytical half of the pipeline file: lifecycle thresholds, maturity and touch rules,
//! the health model and the playbook. Serde shapes here; expression checks live in
//! `crate::marts::expressions`, which knows the columns they may name.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[lifecycle]`: when an active account is onboarding or up for renewal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Tenure (days since the first start) below which an account is onboarding.
    #[serde(default = "default_onboarding_days")]
    pub onboarding_days: u32,
    /// Days to renewal at or below which an account is in its renewal stage (this wins
    /// over onboarding).
    #[serde(default = "default_renewal_window_days")]
    pub renewal_window_days: u32,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            onboarding_days: default_onboarding_days(),
            renewal_window_days: default_renewal_window_days(),
        }
    }
}

fn default_onboarding_days() -> u32 {
    90
}
fn default_renewal_window_days() -> u32 {
    90
}

/// `[[maturity]]`: the first rule (in file order) whose `when` holds gives the level;
/// none gives 0 (below Lv1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaturityRule {
    pub level: u8,
    /// SQL boolean expression over the customer_daily row.
    pub when: String,
}

/// `[[touch]]`: the first rule whose `when` holds gives the touch model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchRule {
    /// high, low or tech.
    pub model: String,
    pub when: String,
}

/// `[health]`: the health model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthModel {
    pub name: String,
    pub version: u32,
    /// weighted (hand-set scales and weights) or logistic (fitted by `churnlake calibrate`:
    /// the score follows the churn probability, see `marts::health`).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// logistic: the log-odds of churn when every standardised feature is 0.
    pub intercept: Option<f64>,
    /// logistic: the churn probability that scores 50 (the training churn rate).
    pub base_rate: Option<f64>,
    /// logistic: the points the score falls for each doubling of the churn odds.
    #[serde(default = "default_points_per_doubling")]
    pub points_per_doubling: f64,
    /// logistic: the days after the date over which churn_probability is the chance of churn
    /// (written by calibrate; informative).
    pub horizon_days: Option<u32>,
    /// reweight (ignore missing components and re-weight the rest), neutral (50) or zero.
    #[serde(default = "default_missing")]
    pub missing: String,
    /// Scores at or above this are green.
    #[serde(default = "default_green_at")]
    pub green_at: f64,
    /// Scores at or above this (and below green_at) are yellow; below, red.
    #[serde(default = "default_yellow_at")]
    pub yellow_at: f64,
    /// delta_30d at or above this is trend `up`; at or below its negative, `down`.
    #[serde(default = "default_trend_threshold")]
    pub trend_threshold: f64,
    /// How many of the largest shortfalls `reasons` lists.
    #[serde(default = "default_reasons")]
    pub reasons: usize,
    pub components: Vec<Component>,
    #[serde(default)]
    pub overrides: Vec<Override>,
}

fn default_kind() -> String {
    "weighted".into()
}
fn default_points_per_doubling() -> f64 {
    10.0
}
fn default_missing() -> String {
    "reweight".into()
}
fn default_green_at() -> f64 {
    70.0
}
fn default_yellow_at() -> f64 {
    40.0
}
fn default_trend_threshold() -> f64 {
    5.0
}
fn default_reasons() -> usize {
    3
}

/// `[[health.components]]`: one signal of the score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Column name prefix in health_scores; lower case, digits and `_`.
    pub name: String,
    /// A customer_daily column or an SQL expression over it.
    pub metric: String,
    /// weighted: linear, points or percentile.
    #[serde(default)]
    pub scale: String,
    /// linear: the value scoring 0 and the value scoring 100 (bad may exceed good).
    pub bad: Option<f64>,
    pub good: Option<f64>,
    /// points: [threshold, points] pairs in increasing threshold; a value gets the points of
    /// the last threshold it reaches (below the first: the first's points).
    pub points: Option<Vec<[f64; 2]>>,
    /// percentile: true when a lower value is better (e.g. ticket load).
    #[serde(default)]
    pub lower_is_better: bool,
    /// weighted: the component's weight.
    pub weight: Option<f64>,
    /// logistic: `log` (ln(1 + x), x below 0 taken as 0) or `none`, applied before
    /// standardising.
    pub transform: Option<String>,
    /// logistic: mean and standard deviation of the transformed metric in training.
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// logistic: the transformed value a missing metric takes (absent: the mean).
    pub fill: Option<f64>,
    /// logistic: the change in the log-odds of churn per standard deviation.
    pub coefficient: Option<f64>,
}

impl Component {
    /// The weight of a weighted model's component (0 when absent, which validation refuses).
    pub fn weight(&self) -> f64 {
        self.weight.unwrap_or(0.0)
    }
}

impl HealthModel {
    pub fn is_logistic(&self) -> bool {
        self.kind == "logistic"
    }
}

/// `[[health.overrides]]`: other weights for a lifecycle stage and/or a segment. The last
/// matching override wins for each component it names; weight 0 drops a component.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub lifecycle_stage: Option<String>,
    pub segment: Option<String>,
    pub weights: BTreeMap<String, f64>,
}

/// `[[playbook]]`: a guided action when a condition holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookRule {
    pub id: String,
    /// SQL boolean over the customer row and its health row.
    pub when: String,
    /// low, medium, high or critical.
    pub severity: String,
    /// high, low or tech; absent = the account's touch model.
    pub touch: Option<String>,
    /// Text with `{column}` placeholders.
    pub message: String,
}

/// `[retention]`: settings of the retention tables (contract §5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Gross margin used by LTV, between 0 and 1.
    #[serde(default = "default_gross_margin")]
    pub gross_margin: f64,
    /// Complete months whose mean rates drive the forecast.
    #[serde(default = "default_trailing_months")]
    pub forecast_trailing_months: u32,
    /// Months projected.
    #[serde(default = "default_forecast_months")]
    pub forecast_months: u32,
    /// health_cohorts: days after an observation date within which a churn counts.
    #[serde(default = "default_horizon_days")]
    pub health_horizon_days: u32,
    /// health_cohorts: observe every Nth month start (1 = every month).
    #[serde(default = "default_every_months")]
    pub health_observation_months: u32,
    /// A churn at boundary E is a surprise when the band this many days before E was green.
    #[serde(default = "default_lead_days")]
    pub surprise_lead_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            gross_margin: default_gross_margin(),
            forecast_trailing_months: default_trailing_months(),
            forecast_months: default_forecast_months(),
            health_horizon_days: default_horizon_days(),
            health_observation_months: default_every_months(),
            surprise_lead_days: default_lead_days(),
        }
    }
}

fn default_trailing_months() -> u32 {
    3
}
fn default_forecast_months() -> u32 {
    36
}
fn default_horizon_days() -> u32 {
    90
}
fn default_every_months() -> u32 {
    1
}
fn default_lead_days() -> u32 {
    30
}

fn default_gross_margin() -> f64 {
    1.0
}
