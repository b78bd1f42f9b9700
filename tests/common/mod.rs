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

pub fn exit_code(output: &Output) -> i32 {
    output.status.code().expect("exited normally")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

pub fn write(dir: &Path, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    path
}

/// Rows of a query over the warehouse (staged tables and the run log), as display text.
pub fn query(warehouse: &Path, sql: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = churnlake::engine::session();
        churnlake::engine::register_warehouse(&ctx, warehouse)
            .await
            .unwrap();
        let batches = churnlake::engine::query(&ctx, sql).await.unwrap();
        churnlake::engine::string_rows(&batches)
    })
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
