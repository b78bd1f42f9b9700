//! Writing a result as a table: a directory of Parquet files, Hive-partitioned when asked,
//! streamed batch by batch (optionally through a Rust step), with one event per table
//! written. It knows files and partitions, not what a table holds.

use crate::base::error::FromFile;
use crate::base::table_file::writer_properties;
use crate::engine::EngineContext;
use crate::engine::{Error, Result};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{DataFrame, ident};
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Writes a result as a directory of Parquet files, Hive-partitioned when asked: one
/// `part-0.parquet` per partition (`<column>=<value>/`), or one at the root.
///
/// See [`WriteOrder`] for how rows reach the files. Returns the rows written, and logs a
/// `table_written` event with the seconds it took and the process's peak RSS so far (where a
/// model's time and memory go, in json logs).
pub async fn write_table(
    df: DataFrame,
    name: &str,
    dir: &Path,
    partition_by: Option<&str>,
    order: WriteOrder,
) -> Result<u64> {
    let started = std::time::Instant::now();
    let rows = write_batches(df, None, name, dir, partition_by, order).await?;
    log_written(name, rows, started);
    Ok(rows)
}

/// A step each batch of a result takes on its way to the files: for the work a model's last
/// step does better in Rust than in SQL (see `marts::sweep`).
pub trait BatchStep {
    /// The schema of the batches the step gives.
    fn schema(&self) -> SchemaRef;
    /// The rows a batch becomes; a step may keep state from one batch to the next.
    fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch>;
}

/// [`write_table`] with each batch of the result first taken through `step`, in the result's
/// order, and written as it comes ([`WriteOrder::AsItComes`]).
pub async fn write_table_through(
    df: DataFrame,
    step: &mut dyn BatchStep,
    name: &str,
    dir: &Path,
    partition_by: Option<&str>,
) -> Result<u64> {
    let started = std::time::Instant::now();
    let order = WriteOrder::AsItComes;
    let rows = write_batches(df, Some(step), name, dir, partition_by, order).await?;
    log_written(name, rows, started);
    Ok(rows)
}

fn log_written(name: &str, rows: u64, started: std::time::Instant) {
    crate::base::log::event(
        "table_written",
        serde_json::json!({
            "table": name,
            "rows": rows,
            "seconds": started.elapsed().as_secs_f64(),
            "peak_rss_bytes": peak_rss_bytes(),
        }),
    );
}

/// The process's peak resident set size (`VmHWM`), where the system tells it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How a partitioned result reaches its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOrder {
    /// Sorted by the partition column first (the sort spills), then written one file at a
    /// time: for results whose rows come in any order over more partitions than files can
    /// stay open (a staged table rewritten by the append path).
    Sort,
    /// Streamed as it comes into one open file per partition, never sorted: for inputs that
    /// arrive roughly in partition order (staged events and views, read file by file), or
    /// that span few partitions (the marts: the dates of one pass). No sort holds memory,
    /// and none over-counts the string buffers a join's output batches share. The row groups buffered across all files stay under
    /// [`WRITE_BUFFER_BYTES`] by flushing the largest; past [`MAX_OPEN_FILES`] partitions the
    /// least recently written file is closed, and a later row of its partition starts
    /// `part-1.parquet` beside it.
    AsItComes,
}

/// Encoded bytes of unfinished row groups, summed over a table's open files.
const WRITE_BUFFER_BYTES: usize = 256 << 20;
/// Files of one table open at once.
const MAX_OPEN_FILES: usize = 1024;

async fn write_batches(
    df: DataFrame,
    mut step: Option<&mut dyn BatchStep>,
    name: &str,
    dir: &Path,
    partition_by: Option<&str>,
    order: WriteOrder,
) -> Result<u64> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let schema = match &step {
        Some(step) => step.schema().as_ref().clone(),
        None => df.schema().as_arrow().clone(),
    };
    let (df, max_open) = match (partition_by, order) {
        (Some(column), WriteOrder::Sort) => (
            df.sort(vec![ident(column).sort(true, false)])
                .context(format!("sorting {name} by {column}"))?,
            1,
        ),
        _ => (df, MAX_OPEN_FILES),
    };
    let task = Arc::new(df.task_ctx());
    let plan = df
        .create_physical_plan()
        .await
        .context(format!("planning {name}"))?;
    let mut stream = datafusion::physical_plan::execute_stream(plan.clone(), task)
        .context(format!("computing {name}"))?;
    let mut writer = PartitionedWriter::new(dir, &schema, partition_by, order, max_open);
    let mut computed = Ok(());
    while let Some(batch) = stream.next().await {
        match batch {
            Ok(batch) => match step.as_deref_mut() {
                Some(step) => writer.write(&step.apply(&batch)?)?,
                None => writer.write(&batch)?,
            },
            Err(e) => {
                computed = Err(e).context(format!("computing {name}"));
                break;
            }
        }
    }
    drop(stream);
    print_profile(name, plan.as_ref());
    computed?;
    let rows = writer.finish()?;
    if rows == 0 {
        write_empty_file(&schema, dir, partition_by)?;
    }
    Ok(rows)
}

/// With `CHURNLAKE_PROFILE` set, prints a computed table's physical plan to stderr with each
/// operator's metrics (rows, time, memory, spills), as far as it got: the tool for finding what
/// a slow or failing build spends its time and memory on.
fn print_profile(name: &str, plan: &dyn datafusion::physical_plan::ExecutionPlan) {
    if std::env::var_os("CHURNLAKE_PROFILE").is_some() {
        let shown =
            datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan)
                .indent(true);
        eprintln!("-- profile of {name}\n{shown}");
    }
}

/// Writes batches into one open file per partition.
struct PartitionedWriter {
    dir: PathBuf,
    /// Index of the partition column in the result, and the file schema without it.
    partition: Option<(usize, String)>,
    file_schema: SchemaRef,
    file_columns: Vec<usize>,
    open: std::collections::HashMap<String, OpenFile>,
    /// Rows of one partition come together (a sorted input) or anywhere in a batch.
    order: WriteOrder,
    max_open: usize,
    /// Files started per partition, naming the next one.
    started: std::collections::HashMap<String, usize>,
    writes: u64,
    rows: u64,
}

struct OpenFile {
    path: PathBuf,
    writer: ArrowWriter<std::fs::File>,
    last_write: u64,
}

impl PartitionedWriter {
    fn new(
        dir: &Path,
        schema: &Schema,
        partition_by: Option<&str>,
        order: WriteOrder,
        max_open: usize,
    ) -> Self {
        let partition = partition_by.and_then(|column| {
            schema
                .index_of(column)
                .ok()
                .map(|index| (index, column.to_string()))
        });
        let file_columns: Vec<usize> = (0..schema.fields().len())
            .filter(|i| partition.as_ref().map(|(p, _)| p) != Some(i))
            .collect();
        let file_schema = Arc::new(
            schema
                .project(&file_columns)
                .expect("columns of the schema"),
        );
        PartitionedWriter {
            dir: dir.to_path_buf(),
            partition,
            file_schema,
            file_columns,
            open: Default::default(),
            order,
            max_open,
            started: Default::default(),
            writes: 0,
            rows: 0,
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some((index, column)) = self.partition.clone() else {
            return self.write_slice(String::new(), batch);
        };
        // A sorted input's batches are already grouped by partition.
        let batch = match self.order {
            WriteOrder::Sort => batch.clone(),
            WriteOrder::AsItComes => {
                let order =
                    datafusion::arrow::compute::sort_to_indices(batch.column(index), None, None)
                        .context("ordering by partition")?;
                datafusion::arrow::compute::take_record_batch(batch, &order)
                    .context("ordering by partition")?
            }
        };
        let values = batch.column(index).clone();
        let ranges = datafusion::arrow::compute::partition(std::slice::from_ref(&values))
            .context("splitting partitions")?
            .ranges();
        let options = FormatOptions::default();
        let formatter =
            ArrayFormatter::try_new(values.as_ref(), &options).context("partition value")?;
        for range in ranges {
            let value = if values.is_null(range.start) {
                "__HIVE_DEFAULT_PARTITION__".to_string()
            } else {
                formatter.value(range.start).to_string()
            };
            let slice = batch.slice(range.start, range.end - range.start);
            self.write_slice(format!("{column}={value}"), &slice)?;
        }
        Ok(())
    }

    fn write_slice(&mut self, partition: String, batch: &RecordBatch) -> Result<()> {
        if !self.open.contains_key(&partition) {
            if self.open.len() >= self.max_open {
                self.close_least_recent()?;
            }
            let number = self.started.entry(partition.clone()).or_insert(0);
            let folder = self.dir.join(&partition);
            std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
            let path = folder.join(format!("part-{number}.parquet"));
            *number += 1;
            let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
            let writer =
                ArrowWriter::try_new(file, self.file_schema.clone(), Some(writer_properties()))
                    .map_err(|e| Error::io(&path, e))?;
            self.open.insert(
                partition.clone(),
                OpenFile {
                    path,
                    writer,
                    last_write: 0,
                },
            );
        }
        self.writes += 1;
        let open = self.open.get_mut(&partition).expect("opened above");
        open.last_write = self.writes;
        let projected = batch
            .project(&self.file_columns)
            .context("projecting a batch")?;
        open.writer
            .write(&projected)
            .map_err(|e| Error::io(open.path.as_path(), e))?;
        self.rows += batch.num_rows() as u64;
        // Summing every open file's buffer costs; a few slices over the bound do not.
        if self.writes.is_multiple_of(16) {
            self.bound_buffers()?;
        }
        Ok(())
    }

    /// Flushes the largest unfinished row groups until the buffered bytes fit.
    fn bound_buffers(&mut self) -> Result<()> {
        let mut buffered: usize = self
            .open
            .values()
            .map(|f| f.writer.in_progress_size())
            .sum();
        while buffered > WRITE_BUFFER_BYTES {
            let largest = self
                .open
                .values_mut()
                .max_by_key(|f| f.writer.in_progress_size())
                .expect("bytes are buffered in some file");
            buffered -= largest.writer.in_progress_size();
            largest
                .writer
                .flush()
                .map_err(|e| Error::io(largest.path.as_path(), e))?;
        }
        Ok(())
    }

    fn close_least_recent(&mut self) -> Result<()> {
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, f)| f.last_write)
            .map(|(partition, _)| partition.clone());
        if let Some(file) = oldest.and_then(|p| self.open.remove(&p)) {
            file.writer.close().map_err(|e| Error::io(&file.path, e))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        let mut open: Vec<(String, OpenFile)> = self.open.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, file) in open {
            file.writer.close().map_err(|e| Error::io(&file.path, e))?;
        }
        Ok(self.rows)
    }
}

/// The key-value metadata of an empty file that names its table's partition column.
pub const PARTITION_KEY: &str = "churnlake.partition_by";

/// DataFusion writes no file for an empty result; readers need one to know the schema.
/// For a partitioned table the file sits outside any partition, so it adds no rows; it names
/// the partition column in its metadata ([`PARTITION_KEY`]), for a Delta table's log.
pub fn write_empty_file(schema: &Schema, dir: &Path, partition_by: Option<&str>) -> Result<()> {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| Some(f.name().as_str()) != partition_by)
        .cloned()
        .collect();
    let path = dir.join("empty.parquet");
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(partition_by.map(|column| {
            vec![parquet::file::metadata::KeyValue::new(
                PARTITION_KEY.to_string(),
                column.to_string(),
            )]
        }))
        .build();
    let writer = ArrowWriter::try_new(file, Arc::new(Schema::new(fields)), Some(properties))
        .map_err(|e| Error::io(&path, e))?;
    writer.close().map_err(|e| Error::io(&path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{query, register_table, session, string_rows};
    use datafusion::arrow::array::{Date32Array, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::arrow::datatypes::Field;

    fn batch(schema: &SchemaRef, days: &[i32], values: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(values.to_vec())),
                Arc::new(Date32Array::from(days.to_vec())),
            ],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn interleaved_partitions_past_the_open_file_limit_keep_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("value", DataType::Int64, false),
            Field::new("day", DataType::Date32, false),
        ]));
        let mut writer =
            PartitionedWriter::new(dir.path(), &schema, Some("day"), WriteOrder::AsItComes, 2);
        // Three partitions, two files open at most: day 0 is closed, then comes back.
        writer
            .write(&batch(&schema, &[0, 1, 0], &[1, 2, 3]))
            .unwrap();
        writer.write(&batch(&schema, &[2, 1], &[4, 5])).unwrap();
        writer.write(&batch(&schema, &[0, 2], &[6, 7])).unwrap();
        assert_eq!(writer.finish().unwrap(), 7);
        let day0 = dir.path().join("day=1970-01-01");
        assert!(day0.join("part-0.parquet").exists() && day0.join("part-1.parquet").exists());

        let ctx = session();
        register_table(&ctx, "t", dir.path(), Some(("day", DataType::Date32)))
            .await
            .unwrap();
        let rows = string_rows(
            &query(
                &ctx,
                "select cast(day as varchar) as d, count(*), sum(value) from t group by day order by d",
            )
            .await
            .unwrap(),
        );
        assert_eq!(
            rows,
            vec![
                vec!["1970-01-01", "3", "10"],
                vec!["1970-01-02", "2", "7"],
                vec!["1970-01-03", "2", "11"],
            ]
        );
    }
}
