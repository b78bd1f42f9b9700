//! Physical rules the scheduler runs after DataFusion's, so that a plan means the same once
//! Ballista has cut it into stages and tasks.
//!
//! [`EvenLeaves`]: Ballista gives each task of a stage its own slice of the stage's plan. A union's child
//! that the task does not read becomes an in-memory scan of no partitions, and an in-memory
//! scan reports metrics where `EmptyExec` and `PlaceholderRowExec` report none. Two tasks of
//! one stage then return metrics for a different number of operators, the scheduler refuses
//! the second task's status, and the job never finishes. With every such leaf already an
//! in-memory scan, each task's plan has the same operators.
//!
//! [`SortAfterShuffle`]: DataFusion lets a repartition of one sorted partition keep its order
//! (the hash split of one ordered stream is ordered), and plans a window or a merge join on
//! it without a sort. On a cluster the repartition is a shuffle, whose reader does not keep
//! that order, and the window fails ("Expects PARTITION BY expression to be ordered"). The
//! rule sorts each partition again after every repartition that claims an order.

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use std::sync::Arc;

/// Replaces `EmptyExec` (no rows per partition) and `PlaceholderRowExec` (one row per
/// partition) with in-memory scans of the same partitions and rows.
#[derive(Debug, Default)]
pub struct EvenLeaves;

impl PhysicalOptimizerRule for EvenLeaves {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let partitions = node.properties().output_partitioning().partition_count();
            let rows_per_partition = if node.is::<EmptyExec>() {
                0
            } else if node.is::<PlaceholderRowExec>() {
                1
            } else {
                return Ok(Transformed::no(node));
            };
            let schema = node.schema();
            let batch = |rows: usize| -> Result<Vec<RecordBatch>> {
                if rows == 0 {
                    return Ok(Vec::new());
                }
                // PlaceholderRowExec's row is never read: nulls, or a type's default
                // where the schema forbids nulls.
                let columns = schema
                    .fields()
                    .iter()
                    .map(|field| -> Result<ArrayRef> {
                        if field.is_nullable() {
                            Ok(new_null_array(field.data_type(), rows))
                        } else {
                            ScalarValue::new_default(field.data_type())?.to_array_of_size(rows)
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                Ok(vec![RecordBatch::try_new_with_options(
                    schema.clone(),
                    columns,
                    &options,
                )?])
            };
            let contents = (0..partitions)
                .map(|_| batch(rows_per_partition))
                .collect::<Result<Vec<_>>>()?;
            let source = MemorySourceConfig::try_new(&contents, schema.clone(), None)?;
            Ok(Transformed::yes(DataSourceExec::from_data_source(source)))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "churnlake_even_leaves"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Puts a per-partition sort above each repartition whose output claims an order.
#[derive(Debug, Default)]
pub struct SortAfterShuffle;

impl PhysicalOptimizerRule for SortAfterShuffle {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if !node.is::<RepartitionExec>() {
                return Ok(Transformed::no(node));
            }
            let Some(ordering) = node.properties().output_ordering().cloned() else {
                return Ok(Transformed::no(node));
            };
            let sort = SortExec::new(ordering, node).with_preserve_partitioning(true);
            Ok(Transformed::yes(Arc::new(sort)))
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "churnlake_sort_after_shuffle"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
