//! What `churnlake calibrate` prints: the dates observed, the metric cohorts, and the two
//! models side by side.

use crate::base::days::days_to_date;
use crate::pipeline::CalibrateOutcome;
use std::path::Path;

fn figure(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.digits$}"))
}

pub fn print_calibration(outcome: &CalibrateOutcome, model_file: Option<&Path>) {
    let calibrated = &outcome.calibrated;
    let span = |dates: &[i32]| {
        format!(
            "{} to {} ({} dates)",
            days_to_date(dates[0]),
            days_to_date(*dates.last().expect("a date")),
            dates.len()
        )
    };
    println!("\nrun {} (calibrate) succeeded", outcome.run_id);
    println!("train: {}", span(&calibrated.train_dates));
    println!("test:  {}", span(&calibrated.test_dates));
    if !outcome.unlabelled.is_empty() {
        println!(
            "not observed (horizon not landed yet): {}",
            crate::base::days::describe_dates(&outcome.unlabelled)
        );
    }
    println!(
        "penalty λ = {} (lowest log loss on the later training dates)",
        calibrated.model.penalty
    );

    println!("\nmetric cohorts: churn rate by decile, lowest values first (metric_cohorts)");
    println!("{:<24} {:>6} {:>5}  deciles 1..10", "feature", "AUC", "log");
    for (i, feature) in outcome.features.iter().enumerate() {
        let auc = calibrated
            .weights
            .iter()
            .find(|w| w.feature == i && w.model == "calibrated")
            .and_then(|w| w.auc_alone);
        let rates: Vec<String> = calibrated.cohorts[i]
            .iter()
            .filter(|c| c.decile.is_some())
            .map(|c| format!("{:>5.1}%", c.churn_rate() * 100.0))
            .collect();
        println!(
            "{:<24} {:>6} {:>5}  {}",
            feature.name,
            figure(auc, 3),
            if calibrated.model.transforms[i].log {
                "yes"
            } else {
                "no"
            },
            rates.join(" ")
        );
    }

    println!("\nmodels (model_evaluation)");
    println!(
        "{:<14} {:<6} {:>7} {:>8} {:>6} {:>8} {:>7} {:>6} {:>9} {:>6}",
        "model",
        "split",
        "obs",
        "churners",
        "AUC",
        "log loss",
        "Brier",
        "lift",
        "surprise",
        "green"
    );
    for e in &calibrated.evaluations {
        let version = if e.model == "current" {
            outcome.names.current_version
        } else {
            outcome.names.new_version
        };
        let percent =
            |rate: Option<f64>| rate.map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0));
        println!(
            "{:<14} {:<6} {:>7} {:>8} {:>6} {:>8} {:>7} {:>6} {:>9} {:>6}",
            format!("v{version} {}", e.model),
            e.split,
            e.observations,
            e.churners,
            figure(e.auc, 3),
            figure(e.log_loss, 4),
            figure(e.brier, 4),
            figure(e.lift_top_decile, 2),
            percent(e.surprise_churn_rate),
            percent(e.green_share),
        );
    }
    match model_file {
        Some(path) => println!(
            "\nv{} written to {}: review it, replace [health] with it, and backfill",
            outcome.names.new_version,
            path.display()
        ),
        None => println!(
            "\nadd --write-model FILE to write v{} as a pipeline-file fragment",
            outcome.names.new_version
        ),
    }
}
