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
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::{DataFusionError, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::{AsLogicalPlan, LogicalExtensionCodec};
use datafusion_proto::protobuf::LogicalPlanNode;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

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
        .with_ballista_logical_extension_codec(Arc::new(ClusterCodec::default()));
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
/// `register` adds; `external_host` is the name executors and clients reach it by.
pub async fn run_scheduler(
    bind: SocketAddr,
    external_host: &str,
    register: RegisterFunctions,
) -> Result<()> {
    let config = ballista_scheduler::config::SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.to_string(),
        override_session_builder: Some(Arc::new(move |config: SessionConfig| {
            let state = ballista_core::utils::default_session_builder(config)?;
            let ctx = SessionContext::new_with_state(state);
            register(&ctx);
            Ok(ctx.state())
        })),
        override_logical_codec: Some(Arc::new(ClusterCodec::default())),
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

/// Ballista's logical codec, in-memory tables (the dates a pass computes, an empty table
/// standing in for a missing one) carried as Arrow IPC, and tables defined by a query
/// carried as their plan: the first byte of a table's bytes says which.
#[derive(Debug, Default)]
pub struct ClusterCodec {
    ballista: BallistaLogicalExtensionCodec,
}

const BALLISTA_TABLE: u8 = 0;
const MEMORY_TABLE: u8 = 1;
/// A table defined by a query (a DataFrame registered as a view): its plan.
const QUERY_TABLE: u8 = 2;

impl LogicalExtensionCodec for ClusterCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> datafusion::common::Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&MEMORY_TABLE, bytes)) => {
                let reader = StreamReader::try_new(bytes, None)?;
                let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
            }
            Some((&QUERY_TABLE, bytes)) => {
                let plan = LogicalPlanNode::try_decode(bytes)?.try_into_logical_plan(ctx, self)?;
                Ok(Arc::new(ViewTable::new(plan, None)))
            }
            Some((&BALLISTA_TABLE, bytes)) => self
                .ballista
                .try_decode_table_provider(bytes, table_ref, schema, ctx),
            _ => Err(DataFusionError::Internal(format!(
                "table {table_ref}: bytes of no table churnlake encodes"
            ))),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> datafusion::common::Result<()> {
        let Some(memory) = node.downcast_ref::<MemTable>() else {
            if let Some(plan) = node.get_logical_plan() {
                buf.push(QUERY_TABLE);
                return LogicalPlanNode::try_from_logical_plan(&plan, self)?.try_encode(buf);
            }
            buf.push(BALLISTA_TABLE);
            return self
                .ballista
                .try_encode_table_provider(table_ref, node, buf)
                .map_err(|e| e.context(format!("table {table_ref} cannot run on a cluster")));
        };
        buf.push(MEMORY_TABLE);
        let schema = memory.schema();
        let mut writer = StreamWriter::try_new(buf, &schema)?;
        for partition in &memory.batches {
            let batches = partition.try_read().map_err(|_| {
                DataFusionError::Internal(format!("table {table_ref} is being written"))
            })?;
            for batch in batches.iter() {
                writer.write(batch)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> datafusion::common::Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> datafusion::common::Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    #[tokio::test]
    async fn an_in_memory_table_crosses_the_codec_with_its_rows() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "as_of_date",
            DataType::Date32,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Date32Array::from(vec![20_000, 20_001]))],
        )
        .expect("a batch");
        let table = MemTable::try_new(schema.clone(), vec![vec![batch]]).expect("a table");
        let codec = ClusterCodec::default();
        let mut bytes = Vec::new();
        let name = TableReference::bare("as_of_dates");
        codec
            .try_encode_table_provider(&name, Arc::new(table), &mut bytes)
            .expect("encodes");
        let ctx = SessionContext::new();
        let decoded = codec
            .try_decode_table_provider(&bytes, &name, schema, &ctx.task_ctx())
            .expect("decodes");
        ctx.register_table("as_of_dates", decoded)
            .expect("registers");
        let rows =
            crate::engine::query(&ctx, "select cast(as_of_date as varchar) from as_of_dates")
                .await
                .expect("reads");
        assert_eq!(
            crate::engine::string_rows(&rows),
            vec![vec!["2024-10-04"], vec!["2024-10-05"]]
        );
    }
}
