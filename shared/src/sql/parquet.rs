//! `lava-sql --format parquet`: rows written as a Parquet file (snappy compressed), one row
//! group per batch, with a schema inferred from the first batch as the original's writer does:
//! a column of booleans is BOOLEAN, of integers INT64, of other numbers DOUBLE, anything else
//! (timestamps in ISO form, as JSON lines writes them) a UTF-8 string; every column may be
//! null, and a column with no value in the first batch is a string. The only module that
//! names the parquet crate. The file is built in a temporary file and copied to the output
//! when it is complete (Parquet's footer comes last).

use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::sync::Arc;

use super::csv::{Field, Kind};
use crate::error::{Error, Result};

/// A column's Parquet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// BOOLEAN.
    Boolean,
    /// INT64.
    Integer,
    /// DOUBLE.
    Double,
    /// BYTE_ARRAY, UTF-8.
    Text,
}

/// The columns' types from the first batch: the kind of each column's first value, integers
/// only if every value of the batch is one.
pub fn infer(columns: usize, rows: &[Vec<Field>]) -> Vec<ColumnType> {
    (0..columns)
        .map(|i| {
            let values: Vec<&Field> = rows.iter().filter_map(|r| r.get(i)).filter(|f| f.text.is_some()).collect();
            match values.first().map(|f| f.kind) {
                Some(Kind::Bool) if values.iter().all(|f| f.kind == Kind::Bool) => ColumnType::Boolean,
                Some(Kind::Number) if values.iter().all(|f| f.kind == Kind::Number) => {
                    if values.iter().all(|f| f.text.as_deref().is_some_and(|t| t.parse::<i64>().is_ok())) {
                        ColumnType::Integer
                    } else {
                        ColumnType::Double
                    }
                }
                _ => ColumnType::Text,
            }
        })
        .collect()
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Unexpected(format!("Parquet: {e}"))
}

/// A Parquet file being written.
pub struct ParquetOutput {
    names: Vec<String>,
    types: Vec<ColumnType>,
    writer: SerializedFileWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl ParquetOutput {
    /// Starts a file for `names` with the types inferred from `first` (the first batch).
    pub fn create(names: &[String], first: &[Vec<Field>]) -> Result<ParquetOutput> {
        let types = infer(names.len(), first);
        let fields = names
            .iter()
            .zip(&types)
            .map(|(name, kind)| {
                let (physical, logical) = match kind {
                    ColumnType::Boolean => (Physical::BOOLEAN, None),
                    ColumnType::Integer => (Physical::INT64, None),
                    ColumnType::Double => (Physical::DOUBLE, None),
                    ColumnType::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
                };
                Type::primitive_type_builder(name, physical)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(logical)
                    .build()
                    .map(Arc::new)
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(parquet_error)?;
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build().map_err(parquet_error)?);
        let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let path = std::env::temp_dir().join(format!("lava-sql-{}.parquet", uuid::Uuid::new_v4().simple()));
        let file =
            std::fs::File::create(&path).map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        let writer = SerializedFileWriter::new(file, schema, properties).map_err(parquet_error)?;
        Ok(ParquetOutput { names: names.to_vec(), types, writer, path })
    }

    /// The column names the file was started with.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Writes `rows` as one row group.
    pub fn write(&mut self, rows: &[Vec<Field>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(parquet_error)?;
        let mut index = 0;
        while let Some(mut column) = group.next_column().map_err(parquet_error)? {
            let name = &self.names[index];
            let present: Vec<&str> = rows.iter().filter_map(|r| r.get(index).and_then(|f| f.text.as_deref())).collect();
            let levels: Vec<i16> =
                rows.iter().map(|r| i16::from(r.get(index).is_some_and(|f| f.text.is_some()))).collect();
            let bad = |value: &str, what: &str| {
                Error::Refused(format!("column {name}: {value:?} is not {what} (the type the first batch gave it)"))
            };
            match self.types[index] {
                ColumnType::Boolean => {
                    let values: Vec<bool> = present.iter().map(|v| *v == "True").collect();
                    column.typed::<BoolType>().write_batch(&values, Some(&levels), None)
                }
                ColumnType::Integer => {
                    let values = present
                        .iter()
                        .map(|v| v.parse::<i64>().map_err(|_| bad(v, "an integer")))
                        .collect::<Result<Vec<_>>>()?;
                    column.typed::<Int64Type>().write_batch(&values, Some(&levels), None)
                }
                ColumnType::Double => {
                    let values = present
                        .iter()
                        .map(|v| v.parse::<f64>().map_err(|_| bad(v, "a number")))
                        .collect::<Result<Vec<_>>>()?;
                    column.typed::<DoubleType>().write_batch(&values, Some(&levels), None)
                }
                ColumnType::Text => {
                    let timestamps = rows.iter().filter_map(|r| r.get(index)).filter(|f| f.text.is_some());
                    let values: Vec<ByteArray> = present
                        .iter()
                        .zip(timestamps)
                        .map(|(v, f)| {
                            let text = if f.kind == Kind::Timestamp { v.replacen(' ', "T", 1) } else { v.to_string() };
                            ByteArray::from(text.into_bytes())
                        })
                        .collect();
                    column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None)
                }
            }
            .map_err(parquet_error)?;
            column.close().map_err(parquet_error)?;
            index += 1;
        }
        group.close().map_err(parquet_error)?;
        Ok(())
    }

    /// Ends the file and copies it to `out`.
    pub fn finish(self, out: &mut dyn Write) -> Result<()> {
        self.writer.close().map_err(parquet_error)?;
        let copied = std::fs::File::open(&self.path).and_then(|mut file| std::io::copy(&mut file, out));
        let _ = std::fs::remove_file(&self.path);
        copied.map(|_| ()).map_err(|e| Error::io("Cannot write the output", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_first_batch() {
        let rows = vec![
            vec![Field::number("1"), Field::number("1.5"), Field::boolean(true), Field::text("a"), Field::null()],
            vec![
                Field::number("2"),
                Field::number("3"),
                Field::null(),
                Field::timestamp("2026-01-02 03:04:05"),
                Field::null(),
            ],
        ];
        assert_eq!(
            infer(5, &rows),
            [ColumnType::Integer, ColumnType::Double, ColumnType::Boolean, ColumnType::Text, ColumnType::Text]
        );
    }
}
