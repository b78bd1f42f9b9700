//! The distributed engine (docs/scaling.md): sessions whose queries run on a Ballista
//! cluster, the codec that carries churnlake's in-memory tables to it, and the scheduler and
//! executor processes, started with the SQL functions of the layers above.
//!
//! A query planned in a cluster session runs on the executors; its batches stream back to
//! this process, which writes them into the run's work directory as a local query's would,
//! so publishing (one journal, one commit point) does not change.

use crate::config::Engine;
use crate::engine::EngineContext;
use crate::engine::{Error, Result};
use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::common::DataFusionError;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

mod codec;
mod rules;

pub use codec::ClusterCodec;
use rules::{EvenLeaves, SortAfterShuffle};

/// The session a pipeline step runs its SQL in: a local one bounded to `memory_limit` bytes
/// (spilling to `spill_dir`), or one whose queries run on the cluster `engine` names.
pub async fn pipeline_session(
    engine: &Engine,
    memory_limit: usize,
    spill_dir: &Path,
) -> Result<SessionContext> {
    match engine {
        Engine::Local => super::bounded_session(memory_limit, spill_dir),
        Engine::Ballista { host, port } => cluster_session(host, *port).await,
    }
}

/// A session planned here and run on the cluster whose scheduler listens at `host:port`.
/// The layers above register their functions on it as on a local one; the cluster's
/// processes know them by name.
async fn cluster_session(host: &str, port: u16) -> Result<SessionContext> {
    let config = super::config()
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(ClusterCodec::default()))
        .with_ballista_adaptive_query_planner(false)
        // Ballista prefers sort-merge joins (they spill); DataFusion 55's panics on a left
        // join whose filter reads one side only (health_cohorts' `band = 'all'`). Hash
        // joins are what the local engine runs, so the cluster runs the same plans.
        .set_bool("datafusion.optimizer.prefer_hash_join", true);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(&format!("df://{host}:{port}"), state)
        .await
        .context(format!(
            "connecting to the Ballista scheduler at {host}:{port}"
        ))
}

/// Registers a layer's SQL functions on a session (the cluster's processes call it on
/// theirs).
pub type RegisterFunctions = fn(&SessionContext);

/// Runs a Ballista scheduler on `bind` until the process ends, planning with the functions
/// `register` adds; `external_host` is the name executors and clients reach it by. An
/// executor silent for `executor_timeout` seconds is lost: its tasks run again on the
/// others, and with none left the running jobs fail once that long has passed again.
pub async fn run_scheduler(
    bind: SocketAddr,
    external_host: &str,
    executor_timeout: u64,
    register: RegisterFunctions,
) -> Result<()> {
    let config = ballista_scheduler::config::SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.to_string(),
        override_session_builder: Some(Arc::new(move |config: SessionConfig| {
            // The static planner: the adaptive one replaces the session's physical rules
            // with its own, and churnlake's must run (rules.rs says why).
            let config = config.with_ballista_adaptive_query_planner(false);
            let state = ballista_core::utils::default_session_builder(config)?;
            let state = SessionStateBuilder::new_from_existing(state)
                .with_physical_optimizer_rule(Arc::new(EvenLeaves))
                .with_physical_optimizer_rule(Arc::new(SortAfterShuffle))
                .build();
            let ctx = SessionContext::new_with_state(state);
            register(&ctx);
            Ok(ctx.state())
        })),
        override_logical_codec: Some(Arc::new(ClusterCodec::default())),
        executor_timeout_seconds: executor_timeout,
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: executor_timeout,
        ..Default::default()
    };
    let cluster = ballista_scheduler::cluster::BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| cluster_error("starting the scheduler", e))?;
    ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| cluster_error(&format!("the scheduler on {bind}"), e))
}

/// Where an executor listens and whom it serves.
pub struct ExecutorSettings {
    /// The scheduler's `host:port`.
    pub scheduler: (String, u16),
    pub bind_host: String,
    /// Flight (shuffle and results) port; the gRPC port is the next one.
    pub port: u16,
    /// The name the scheduler and other executors reach this executor by.
    pub external_host: String,
    /// Tasks run at once.
    pub concurrent_tasks: usize,
    /// Where shuffle files go.
    pub work_dir: String,
    /// Bytes the executor's tasks may hold before spilling (None: Ballista's share of the
    /// machine's memory).
    pub memory_limit: Option<u64>,
}

/// Runs a Ballista executor until the process ends (or the scheduler stops it), executing
/// plans with the functions `register` adds.
pub async fn run_executor(settings: ExecutorSettings, register: RegisterFunctions) -> Result<()> {
    let ctx = SessionContext::new();
    register(&ctx);
    let registry = BallistaFunctionRegistry::from(&ctx.state());
    let config = ballista_executor::executor_process::ExecutorProcessConfig {
        bind_host: settings.bind_host.clone(),
        external_host: Some(settings.external_host.clone()),
        port: settings.port,
        grpc_port: settings.port + 1,
        scheduler_host: settings.scheduler.0.clone(),
        scheduler_port: settings.scheduler.1,
        scheduler_connect_timeout_seconds: 30,
        vcores: settings.concurrent_tasks,
        work_dir: Some(settings.work_dir.clone()),
        memory_pool_size: settings.memory_limit,
        executor_heartbeat_interval_seconds: 5,
        override_function_registry: Some(Arc::new(registry)),
        override_logical_codec: Some(Arc::new(ClusterCodec::default())),
        print_thread_info: false,
        ..Default::default()
    };
    ballista_executor::executor_process::start_executor_process(Arc::new(config))
        .await
        .map_err(|e| cluster_error(&format!("the executor on port {}", settings.port), e))
}

fn cluster_error(what: &str, e: ballista_core::error::BallistaError) -> Error {
    Error::query(what, DataFusionError::External(Box::new(e)))
}
