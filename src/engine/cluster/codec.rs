//! The logical codec churnlake's cluster sessions, scheduler and executors share: Ballista's,
//! plus the two kinds of tables the pipeline registers that Ballista cannot carry.

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
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::{AsLogicalPlan, LogicalExtensionCodec};
use datafusion_proto::protobuf::LogicalPlanNode;
use std::sync::Arc;

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
    use datafusion::prelude::SessionContext;

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
