//! Runs the `.slt` files that sit beside the SQL models (`sql/**/*.slt`).
//!
//! A file named after a model (`sql/marts/mrr_monthly.slt` beside `mrr_monthly.sql`) is that
//! model's spec: it runs in a session of its own whose inputs are empty tables the spec fills
//! and whose models are views over them (`churnlake::marts::spec`). Any other file runs
//! against the tables of the committed fixtures, ingested once into a temporary warehouse and
//! built as of 2026-08-24 (staged tables, marts and run log are all registered).
//!
//! `cargo test --test sqllogictests -- --complete` rewrites the expected results; read the
//! diff before committing it.

use churnlake::config::Overrides;
use churnlake::pipeline::{run_build, run_ingest};
use datafusion_sqllogictest::DataFusion;
use indicatif::ProgressBar;
use sqllogictest::strict_column_validator;
use std::path::{Path, PathBuf};

fn slt_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            slt_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "slt") {
            found.push(path);
        }
    }
}

#[tokio::main]
async fn main() {
    let complete = std::env::args().any(|a| a == "--complete");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let warehouse = tempfile::tempdir().expect("temporary warehouse");
    let overrides = Overrides {
        data_root: Some(root.join("fixtures")),
        warehouse: Some(warehouse.path().to_path_buf()),
        memory_limit: None,
        table_format: None,
        engine: None,
    };
    let pipeline = churnlake::pipeline::load(&root.join("pipelines/default.toml"), &overrides)
        .await
        .expect("default pipeline loads");
    let (_, outcome) = run_ingest(&pipeline, false).await.expect("fixtures ingest");
    outcome.result.expect("fixtures ingest");
    let build_date = chrono::NaiveDate::from_ymd_opt(2026, 8, 24).expect("a date");
    run_build(&pipeline, &[build_date], "build")
        .await
        .expect("fixtures build");

    let mut files = Vec::new();
    slt_files(&root.join("sql"), &mut files);
    assert!(!files.is_empty(), "no .slt files under sql/");
    let mut failures = 0;
    for file in &files {
        let relative = file
            .strip_prefix(root)
            .expect("under the crate")
            .to_path_buf();
        let ctx = if file.with_extension("sql").exists() {
            churnlake::marts::spec::spec_session(&pipeline)
                .await
                .expect("the spec session plans")
        } else {
            let ctx = churnlake::pipeline::catalog::session();
            churnlake::pipeline::catalog::register_warehouse(&ctx, warehouse.path())
                .await
                .expect("warehouse tables register");
            ctx
        };
        let mut runner = sqllogictest::Runner::new(|| {
            let ctx = ctx.clone();
            let relative = relative.clone();
            async move { Ok(DataFusion::new(ctx, relative, ProgressBar::hidden())) }
        });
        runner.with_column_validator(strict_column_validator);
        runner.with_normalizer(datafusion_sqllogictest::value_normalizer);
        runner.with_validator(datafusion_sqllogictest::df_value_validator);
        let result = if complete {
            runner
                .update_test_file(
                    file,
                    " ",
                    datafusion_sqllogictest::df_value_validator,
                    datafusion_sqllogictest::value_normalizer,
                    strict_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner.run_file_async(file).await.map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => println!("ok      {}", relative.display()),
            Err(e) => {
                failures += 1;
                println!("FAILED  {}\n{e}", relative.display());
            }
        }
    }
    println!(
        "sqllogictests: {} passed, {failures} failed",
        files.len() - failures
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
