//! Helpers shared by the integration tests: run the real binary, write inputs, and read the
//! warehouse back with SQL.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn churnlake(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_churnlake"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("churnlake runs")
}

/// Asserts exit code 0, showing both streams otherwise.
pub fn ok(output: &Output) {
    assert_eq!(
        exit_code(output),
        0,
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
}

pub fn exit_code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// The `build_finished` event of a run with `--log-format json`.
pub fn build_finished(output: &Output) -> serde_json::Value {
    stderr(output)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "build_finished")
        .expect("a build_finished event")
}

pub fn write(dir: &Path, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    path
}

/// Copies a directory tree (for tests that add or change source files).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the committed fixtures under `dir/data`, for tests that add and change source
/// files.
pub fn fixtures_copy(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &data,
    );
    data
}

/// Rows of a query over the warehouse (staged tables and the run log), as display text.
pub fn query(warehouse: &Path, sql: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = churnlake::pipeline::catalog::session();
        churnlake::pipeline::catalog::register_warehouse(&ctx, warehouse)
            .await
            .unwrap();
        let batches = churnlake::engine::query(&ctx, sql).await.unwrap();
        churnlake::engine::string_rows(&batches)
    })
}

/// Every row of each table, sorted, after a line naming the table and its row count: for
/// comparing two warehouses.
pub fn table_rows(warehouse: &Path, tables: &[&str]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for table in tables {
        let mut table_rows = query(warehouse, &format!("select * from {table}"));
        table_rows.sort();
        rows.push(vec![format!("-- {table}: {} rows", table_rows.len())]);
        rows.append(&mut table_rows);
    }
    rows
}

/// Fails with the first row that differs, not two whole tables.
pub fn assert_same(actual: &[Vec<String>], expected: &[Vec<String>], what: &str) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "{what}: row {i} differs");
    }
    assert_eq!(actual.len(), expected.len(), "{what}: row counts differ");
}

/// A single value.
pub fn scalar(warehouse: &Path, sql: &str) -> String {
    let rows = query(warehouse, sql);
    assert_eq!(rows.len(), 1, "one row expected from {sql}, got {rows:?}");
    rows[0][0].clone()
}

/// Every file under a directory with its bytes, for "left untouched" checks.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The readers' venv, or `None` (with a note) where it is not installed and CI is not set.
pub fn readers() -> Option<PathBuf> {
    let venv = std::env::var("CHURNLAKE_READERS_VENV").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/churnlake-ci/readers"),
        PathBuf::from,
    );
    if venv.join("bin/python").exists() {
        return Some(venv);
    }
    assert!(
        std::env::var("CI").is_err(),
        "the readers' venv {} is missing: run `bash .ci/readers.sh`",
        venv.display()
    );
    eprintln!(
        "skipped: no readers' venv at {} (bash .ci/readers.sh makes it)",
        venv.display()
    );
    None
}
