//! Builds through a real Ballista cluster on 127.0.0.1: `churnlake cluster scheduler` and two
//! `churnlake cluster executor` processes, started from the binary under test. Every table a
//! build and a 7-date backfill write through the cluster equals, row for row as DuckDB reads
//! them, what the same commands write locally; so does the demo's warehouse.

mod common;

use common::*;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scheduler and two executors, stopped when dropped. Their logs (Ballista's, at info) are
/// files in the test's directory.
struct Cluster {
    processes: Vec<Child>,
    scheduler_port: u16,
    logs: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let logs = dir.join("cluster-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let scheduler_port = free_port(1);
        let mut cluster = Cluster {
            processes: Vec::new(),
            scheduler_port,
            logs,
        };
        let bind = format!("127.0.0.1:{scheduler_port}");
        cluster.spawn(
            "scheduler",
            &[
                "cluster",
                "scheduler",
                "--bind",
                &bind,
                "--external-host",
                "127.0.0.1",
            ],
        );
        for name in ["executor-1", "executor-2"] {
            let port = free_port(2).to_string();
            let work_dir = dir.join(name);
            std::fs::create_dir_all(&work_dir).unwrap();
            cluster.spawn(
                name,
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &bind,
                    "--port",
                    &port,
                    "--external-host",
                    "127.0.0.1",
                    "--concurrent-tasks",
                    "1",
                    "--work-dir",
                    work_dir.to_str().unwrap(),
                ],
            );
        }
        for name in ["executor-1", "executor-2"] {
            cluster.wait_for(name, "Executor registration succeed");
        }
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_churnlake"))
            .args(args)
            .env("CHURNLAKE_CLUSTER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("a cluster process starts");
        self.processes.push(child);
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
    }

    fn wait_for(&self, name: &str, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log(name).contains(line) {
            assert!(
                Instant::now() < deadline,
                "{name} did not log {line:?} in 60 s:\n{}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn engine(&self) -> String {
        format!("ballista://127.0.0.1:{}", self.scheduler_port)
    }

    /// Tasks each executor ran, and jobs the scheduler finished.
    fn work_done(&self) -> (usize, usize, usize) {
        let tasks = |name| self.log(name).matches("Execute task").count();
        let jobs = self
            .log("scheduler")
            .matches("Job finished successfully")
            .count();
        (tasks("executor-1"), tasks("executor-2"), jobs)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nothing listens on, with the `span - 1` ports after it free too (an executor takes
/// PORT and PORT+1).
fn free_port(span: u16) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < u16::MAX - span
            && (1..span).all(|k| TcpListener::bind(("127.0.0.1", port + k)).is_ok())
        {
            return port;
        }
    }
}

fn cl(warehouse: &Path, engine: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churnlake"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CHURNLAKE_ENGINE")
        .arg("--warehouse")
        .arg(warehouse)
        .args(["--data-root", "fixtures"]);
    if let Some(engine) = engine {
        command.args(["--engine", engine]);
    }
    command.args(args).output().expect("churnlake runs")
}

/// Asserts that DuckDB reads the same tables with the same rows in both warehouses.
fn assert_same_warehouses(venv: &Path, local: &Path, cluster: &Path, what: &str) {
    let out = Command::new(venv.join("bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers/compare_warehouses.py"))
        .arg(local)
        .arg(cluster)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "the reader failed:\n{}", stderr(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = seen.as_object().unwrap();
    for table in [
        "customer_daily",
        "health_scores",
        "playbook_actions",
        "mrr_monthly",
    ] {
        assert!(tables.contains_key(table), "{what}: no {table} in {seen}");
    }
    for (table, entry) in tables {
        assert_eq!(
            entry["rows_a"], entry["rows_b"],
            "{what}: {table} row counts: {entry}"
        );
        if entry.get("only_a").is_some() {
            assert_eq!(
                entry["only_a"], 0,
                "{what}: {table} rows only in the local run"
            );
            assert_eq!(
                entry["only_b"], 0,
                "{what}: {table} rows only in the cluster run"
            );
        }
    }
}

#[test]
fn a_build_and_a_backfill_through_a_cluster_equal_a_local_run() {
    let Some(venv) = readers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path());
    let engine = cluster.engine();
    let local = dir.path().join("local");
    let distributed = dir.path().join("cluster");

    for (warehouse, engine) in [(&local, None), (&distributed, Some(engine.as_str()))] {
        ok(&cl(warehouse, engine, &["ingest"]));
        ok(&cl(warehouse, engine, &["build", "--as-of", "2026-08-24"]));
    }
    assert_same_warehouses(&venv, &local, &distributed, "build --as-of 2026-08-24");
    let (tasks_1, tasks_2, jobs) = cluster.work_done();
    assert!(
        tasks_1 > 0 && tasks_2 > 0 && jobs > 0,
        "the cluster did the work: executor-1 ran {tasks_1} tasks, executor-2 {tasks_2}, \
         the scheduler finished {jobs} jobs"
    );

    for (warehouse, engine) in [(&local, None), (&distributed, Some(engine.as_str()))] {
        let backfill = ["backfill", "--from", "2026-08-18", "--to", "2026-08-24"];
        ok(&cl(warehouse, engine, &backfill));
    }
    assert_same_warehouses(&venv, &local, &distributed, "backfill of 7 dates");
    let (_, _, jobs_after) = cluster.work_done();
    assert!(jobs_after > jobs, "the backfill ran on the cluster");
}

#[test]
fn the_demo_through_a_cluster_equals_the_local_demo() {
    let Some(venv) = readers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path());
    let engine = cluster.engine();
    for (name, engine) in [("local", None), ("cluster", Some(engine.as_str()))] {
        let run_dir = dir.path().join(name);
        std::fs::create_dir_all(&run_dir).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_churnlake"));
        command.current_dir(&run_dir).env_remove("CHURNLAKE_ENGINE");
        if let Some(engine) = engine {
            command.args(["--engine", engine]);
        }
        ok(&command.arg("demo").output().expect("churnlake runs"));
    }
    assert_same_warehouses(
        &venv,
        &dir.path().join("local/demo/warehouse"),
        &dir.path().join("cluster/demo/warehouse"),
        "demo",
    );
    let (tasks_1, tasks_2, _) = cluster.work_done();
    assert!(
        tasks_1 > 0 && tasks_2 > 0,
        "both executors ran the demo's tasks"
    );
}
