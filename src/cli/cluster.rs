//! `churnlake cluster scheduler | executor`: the processes of a Ballista cluster that runs
//! churnlake's SQL (docs/scaling.md), started with churnlake's functions registered.

use crate::engine::cluster::{self, ExecutorSettings};
use crate::pipeline::Result;
use clap::{Args, Subcommand};
use std::net::SocketAddr;

/// Start a process of a Ballista cluster that builds churnlake's tables.
///
/// A cluster is one scheduler and any number of executors; a build runs on it with
/// `--engine ballista://SCHEDULER_HOST:PORT`. Every node must see the warehouse at the same
/// path (a shared directory).
///
/// Examples:
///   churnlake cluster scheduler --bind 0.0.0.0:50050 --external-host sched-1
///   churnlake cluster executor --scheduler sched-1:50050 --port 50051 --work-dir /var/tmp/ex1
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ClusterArgs {
    #[command(subcommand)]
    process: Process,
}

#[derive(Debug, Subcommand)]
enum Process {
    /// Plan queries and hand their tasks to executors.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// The host name executors and clients reach this scheduler by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Seconds without a heartbeat (executors send one every 5) after which an executor
        /// counts as lost and its tasks are reset for the others; with no executor left, the
        /// running jobs fail after as long again. (A job can still stall after a loss:
        /// docs/scaling.md.)
        #[arg(long, default_value_t = 30)]
        executor_timeout: u64,
    },
    /// Run query tasks; listens on PORT (Flight: shuffles and results) and PORT+1 (gRPC).
    Executor {
        /// The scheduler's HOST:PORT.
        #[arg(long, default_value = "localhost:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The host name the scheduler and other executors reach this executor by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Directory for shuffle files.
        #[arg(long)]
        work_dir: String,
        /// Memory the tasks may hold before spilling, e.g. 4GiB (default: Ballista's share
        /// of the machine's memory).
        #[arg(long)]
        memory_limit: Option<String>,
    },
}

/// Ballista's messages (executors registering, tasks, failures) on stderr, at the level of
/// `CHURNLAKE_CLUSTER_LOG` (error, warn, info, debug; info unless set).
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{} {} {}: {}",
                chrono::Utc::now().format("%H:%M:%S%.3f"),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Starts printing Ballista's messages (see [`StderrLog`]); a process or client calls it once.
pub fn init_cluster_log() {
    let level = std::env::var("CHURNLAKE_CLUSTER_LOG")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(log::LevelFilter::Info);
    if log::set_logger(&StderrLog).is_ok() {
        log::set_max_level(level);
    }
}

pub async fn execute(args: ClusterArgs) -> Result<()> {
    init_cluster_log();
    match args.process {
        Process::Scheduler {
            bind,
            external_host,
            executor_timeout,
        } => {
            cluster::run_scheduler(
                bind,
                &external_host,
                executor_timeout,
                crate::marts::register_functions,
            )
            .await?
        }
        Process::Executor {
            scheduler,
            bind_host,
            port,
            external_host,
            concurrent_tasks,
            work_dir,
            memory_limit,
        } => {
            let scheduler = crate::config::parse_host_port(&scheduler)
                .map_err(|problem| usage(format!("--scheduler {problem}")))?;
            let memory_limit = match memory_limit {
                Some(text) => Some(crate::config::parse_size(&text).ok_or_else(|| {
                    usage(format!(
                        "--memory-limit `{text}` is not a size; write it like \"4GiB\""
                    ))
                })? as u64),
                None => None,
            };
            let settings = ExecutorSettings {
                scheduler,
                bind_host,
                port,
                external_host,
                concurrent_tasks: concurrent_tasks
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                work_dir,
                memory_limit,
            };
            cluster::run_executor(settings, crate::marts::register_functions).await?
        }
    }
    Ok(())
}

fn usage(message: String) -> crate::pipeline::Error {
    crate::pipeline::Error::Engine(crate::engine::Error::Location(message))
}
