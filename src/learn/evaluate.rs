//! How well a risk ordering or a probability predicts churn: AUC, log loss, Brier score,
//! lift in the riskiest decile, and churn by decile of a metric (the metric cohorts).

/// The probability that a churner's risk is above a non-churner's, ties counting half
/// (Mann–Whitney U from average ranks); `None` without both churners and non-churners.
pub fn auc(risk: &[f64], churned: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..risk.len()).collect();
    order.sort_by(|a, b| risk[*a].total_cmp(&risk[*b]));
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && risk[order[end + 1]] == risk[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end + 1 share their average.
        let average = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += average * order[start..=end].iter().filter(|i| churned[**i]).count() as f64;
        start = end + 1;
    }
    let positives = churned.iter().filter(|c| **c).count() as f64;
    let negatives = churned.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15].
pub fn log_loss(probability: &[f64], churned: &[bool]) -> Option<f64> {
    mean(probability.iter().zip(churned).map(|(p, y)| {
        let p = p.clamp(1e-15, 1.0 - 1e-15);
        if *y { -p.ln() } else { -(1.0 - p).ln() }
    }))
}

/// Mean squared difference between probability and outcome.
pub fn brier(probability: &[f64], churned: &[bool]) -> Option<f64> {
    mean(
        probability
            .iter()
            .zip(churned)
            .map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2)),
    )
}

/// The churn rate of the riskiest tenth (⌈n / 10⌉ observations, ties at the edge in input
/// order) over the churn rate of all.
pub fn lift_top_decile(risk: &[f64], churned: &[bool]) -> Option<f64> {
    let overall = mean(churned.iter().map(|c| f64::from(u8::from(*c))))?;
    if overall == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..risk.len()).collect();
    order.sort_by(|a, b| risk[*b].total_cmp(&risk[*a]));
    let top = risk.len().div_ceil(10);
    let top_rate = mean(
        order[..top]
            .iter()
            .map(|i| f64::from(u8::from(churned[*i]))),
    )?;
    Some(top_rate / overall)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

/// One decile of a metric: its observations in value order, split in ten groups of equal
/// size but for ties, which stay in the decile of their first occurrence.
#[derive(Debug, Clone, PartialEq)]
pub struct Cohort {
    /// 1 (lowest values) to 10; `None` for the observations without a value.
    pub decile: Option<u32>,
    pub observations: usize,
    pub churners: usize,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub mean_value: Option<f64>,
}

impl Cohort {
    pub fn churn_rate(&self) -> f64 {
        self.churners as f64 / self.observations.max(1) as f64
    }
}

/// The metric cohorts of `values`: up to ten deciles of the observations with a value (fewer
/// when values repeat or are fewer than ten), then one cohort of those without.
pub fn deciles(values: &[Option<f64>], churned: &[bool]) -> Vec<Cohort> {
    let mut present: Vec<(f64, bool)> = values
        .iter()
        .zip(churned)
        .filter_map(|(v, c)| v.map(|v| (v, *c)))
        .collect();
    present.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A value's decile is that of its first occurrence: equal values share one cohort, so a
    // decile may hold more than a tenth and a later one none.
    let n = present.len();
    let mut decile_of = vec![0usize; n];
    for i in 0..n {
        decile_of[i] = if i > 0 && present[i].0 == present[i - 1].0 {
            decile_of[i - 1]
        } else {
            i * 10 / n
        };
    }
    let mut cohorts = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = start;
        while end < n && decile_of[end] == decile_of[start] {
            end += 1;
        }
        let part = &present[start..end];
        cohorts.push(Cohort {
            decile: Some(decile_of[start] as u32 + 1),
            observations: part.len(),
            churners: part.iter().filter(|(_, c)| *c).count(),
            min_value: part.first().map(|p| p.0),
            max_value: part.last().map(|p| p.0),
            mean_value: mean(part.iter().map(|p| p.0)),
        });
        start = end;
    }
    let missing: Vec<bool> = values
        .iter()
        .zip(churned)
        .filter(|(v, _)| v.is_none())
        .map(|(_, c)| *c)
        .collect();
    if !missing.is_empty() {
        cohorts.push(Cohort {
            decile: None,
            observations: missing.len(),
            churners: missing.iter().filter(|c| **c).count(),
            min_value: None,
            max_value: None,
            mean_value: None,
        });
    }
    cohorts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_ties_half() {
        // Pairs (churner, non-churner): (0.9, 0.1) right, (0.9, 0.5) right, (0.5, 0.1) right,
        // (0.5, 0.5) a tie: 3.5 of 4.
        let risk = [0.9, 0.5, 0.5, 0.1];
        let churned = [true, true, false, false];
        assert_eq!(auc(&risk, &churned), Some(0.875));
        assert_eq!(auc(&risk, &[true; 4]), None);
    }

    #[test]
    fn probabilities_are_scored_by_log_loss_brier_and_lift() {
        let p = [0.8, 0.2];
        let y = [true, false];
        assert!((log_loss(&p, &y).unwrap() - -(0.8f64.ln())).abs() < 1e-12);
        assert!((brier(&p, &y).unwrap() - 0.04).abs() < 1e-12);
        // 20 observations, 4 churners; the riskiest 2 hold 2: rate 1.0 over 0.2 = 5.
        let risk: Vec<f64> = (0..20).map(f64::from).collect();
        let churned: Vec<bool> = (0..20).map(|i| [19, 18, 3, 2].contains(&i)).collect();
        assert_eq!(lift_top_decile(&risk, &churned), Some(5.0));
    }

    #[test]
    fn deciles_split_the_values_in_order_and_keep_the_missing_apart() {
        let mut values: Vec<Option<f64>> = (1..=20).map(|v| Some(f64::from(v))).collect();
        values.push(None);
        let churned: Vec<bool> = (1..=21).map(|v| v <= 4 || v == 21).collect();
        let cohorts = deciles(&values, &churned);
        assert_eq!(cohorts.len(), 11);
        assert_eq!(
            cohorts[0],
            Cohort {
                decile: Some(1),
                observations: 2,
                churners: 2,
                min_value: Some(1.0),
                max_value: Some(2.0),
                mean_value: Some(1.5),
            }
        );
        assert_eq!(cohorts[2].churners, 0);
        assert_eq!((cohorts[10].decile, cohorts[10].churners), (None, 1));
        // Ties stay together: half the values are 0, so deciles 1–5 are one cohort.
        let tied: Vec<Option<f64>> = (0..20).map(|v| Some(f64::from(v.max(9) - 9))).collect();
        let cohorts = deciles(&tied, &[false; 20]);
        assert_eq!(
            cohorts
                .iter()
                .map(|c| (c.decile, c.observations))
                .collect::<Vec<_>>(),
            vec![
                (Some(1), 10),
                (Some(6), 2),
                (Some(7), 2),
                (Some(8), 2),
                (Some(9), 2),
                (Some(10), 2)
            ]
        );
    }
}
