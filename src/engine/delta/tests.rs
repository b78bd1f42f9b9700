//! Delta commits and reads, against delta-rs reading the log back.

use super::*;
use crate::engine::warehouse::Warehouse;
use crate::engine::{query, session, string_rows};
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

/// Writes one Parquet file of `values` at `table/rel` and describes it.
fn file(table: &std::path::Path, rel: &str, values: &[i64]) -> NewFile {
    let path = table.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(values.to_vec()))],
    )
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None)
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    NewFile {
        path: rel.to_string(),
        size: std::fs::metadata(&path).unwrap().len(),
        rows: values.len() as u64,
    }
}

#[tokio::test]
async fn partition_values_with_spaces_and_non_ascii_commit_and_read_back_at_each_version() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path()).unwrap();
    let table = dir.path().join("t");
    let schema = Schema::new(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("region", DataType::Utf8, true),
    ]);
    let writer = Writer {
        run_id: "r1",
        command: "test",
    };
    let first = Change {
        schema: Some(schema.clone()),
        partition_by: vec!["region".into()],
        added: vec![
            file(&table, "region=east coast/part-0-r1.parquet", &[1, 2]),
            file(&table, "region=東京/part-0-r1.parquet", &[10]),
        ],
        ..Default::default()
    };
    let planned = plan(&warehouse, "t", &first, &writer)
        .await
        .unwrap()
        .unwrap();
    assert!(commit(&warehouse, &planned).await.unwrap());
    // Made again (a recovering run), it is not committed twice.
    assert!(!commit(&warehouse, &planned).await.unwrap());

    // The second version replaces Tokyo's partition.
    let writer = Writer {
        run_id: "r2",
        command: "test",
    };
    let second = Change {
        schema: Some(schema),
        partition_by: vec!["region".into()],
        added: vec![file(&table, "region=東京/part-0-r2.parquet", &[20, 30])],
        removed: ["region=東京/part-0-r1.parquet".to_string()].into(),
        ..Default::default()
    };
    let planned = plan(&warehouse, "t", &second, &writer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(planned.predicate.as_deref(), Some("region = '東京'"));
    assert!(commit(&warehouse, &planned).await.unwrap());

    let location = table.display().to_string();
    for (travel, expected) in [
        (None, vec![vec!["east coast", "3"], vec!["東京", "50"]]),
        (
            Some(TimeTravel::Version(0)),
            vec![vec!["east coast", "3"], vec!["東京", "10"]],
        ),
    ] {
        let ctx = session();
        let registered = register(&ctx, "t", &location, None, travel).await.unwrap();
        assert_eq!(registered, Registered::Yes);
        let sql = "select region, cast(sum(n) as varchar) from t group by region order by region";
        assert_eq!(
            string_rows(&query(&ctx, sql).await.unwrap()),
            expected,
            "{travel:?}"
        );
    }
    let versions = history(&warehouse, "t").await.unwrap().unwrap();
    let runs: Vec<_> = versions
        .iter()
        .map(|v| (v.version, v.run_id.clone()))
        .collect();
    assert_eq!(runs, vec![(1, Some("r2".into())), (0, Some("r1".into()))]);
    assert_eq!(versions[0].rows_written, Some(2));
    assert_eq!(versions[0].files_removed, Some(1));
    // A version the table never had is no table then.
    let ctx = session();
    let later = register(&ctx, "t", &location, None, Some(TimeTravel::Version(5))).await;
    assert!(matches!(later.unwrap(), Registered::NotThen(_)));
}
