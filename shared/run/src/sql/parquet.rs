//! `lava-sql --format parquet`: rows written as a Parquet file (snappy compressed), one row
//! group per batch, with a schema inferred from the first batch as the original's writer
//! (pyarrow's `RecordBatch.from_pylist`) infers it from the values its drivers return: booleans
//! are BOOLEAN, integers INT64, floats DOUBLE, decimals DECIMAL (precision and scale the
//! batch's widest; a fixed-length big-endian array), timestamps INT64 TIMESTAMP(MICROS),
//! adjusted to UTC when they have an offset, dates INT32 DATE, times INT64 TIME(MICROS), a
//! column with no value in the first batch INT32 of the null type, anything else a UTF-8
//! string; every column may be null. The only module that names the parquet crate. The file is
//! built in a temporary file and copied to the output when it is complete (Parquet's footer
//! comes last).

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FixedLenByteArray, FixedLenByteArrayType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::io::Write;
use std::sync::Arc;

use super::csv::{Field, Kind};
use crate::error::{Error, Result};

/// The most digits a decimal column takes (Parquet's DECIMAL in 16 bytes).
const MAX_DECIMAL_DIGITS: u32 = 38;

/// A column's Parquet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// BOOLEAN.
    Boolean,
    /// INT64.
    Integer,
    /// DOUBLE.
    Double,
    /// FIXED_LEN_BYTE_ARRAY, DECIMAL(precision, scale).
    Decimal {
        /// Digits in all.
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// INT64, TIMESTAMP(MICROS).
    Timestamp {
        /// Adjusted to UTC (the values had an offset).
        utc: bool,
    },
    /// INT32, DATE.
    Date,
    /// INT64, TIME(MICROS).
    Time,
    /// BYTE_ARRAY, UTF-8.
    Text,
    /// INT32 of the null type: no value in the first batch.
    Null,
}

/// The columns' types from the first batch: the kind of each column's values, when they all
/// share it (integers only if every number is one).
pub fn infer(columns: usize, rows: &[Vec<Field>]) -> Vec<ColumnType> {
    (0..columns)
        .map(|i| {
            let values: Vec<&Field> = rows.iter().filter_map(|r| r.get(i)).filter(|f| f.text.is_some()).collect();
            let Some(kind) = values.first().map(|f| f.kind) else { return ColumnType::Null };
            if values.iter().any(|f| f.kind != kind) {
                return ColumnType::Text;
            }
            let texts = || values.iter().filter_map(|f| f.text.as_deref());
            match kind {
                Kind::Bool => ColumnType::Boolean,
                Kind::Number if texts().all(|t| t.parse::<i64>().is_ok()) => ColumnType::Integer,
                Kind::Number => ColumnType::Double,
                Kind::Decimal => {
                    let digits: Vec<(u32, u32)> = texts().map(decimal_digits).collect();
                    let whole = digits.iter().map(|d| d.0).max().unwrap_or(0);
                    let scale = digits.iter().map(|d| d.1).max().unwrap_or(0);
                    ColumnType::Decimal { precision: (whole + scale).max(1), scale }
                }
                Kind::Timestamp => ColumnType::Timestamp { utc: texts().next().is_some_and(has_offset) },
                Kind::Date => ColumnType::Date,
                Kind::Time => ColumnType::Time,
                // JSON as its text.
                Kind::Text | Kind::Json | Kind::Duration => ColumnType::Text,
            }
        })
        .collect()
}

/// A decimal's digits before the point (leading zeros not counted) and after it.
fn decimal_digits(text: &str) -> (u32, u32) {
    let unsigned = text.trim_start_matches(['-', '+']);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    (whole.trim_start_matches('0').len() as u32, fraction.len() as u32)
}

/// Whether a timestamp as Python prints it has a UTC offset (`…+10:00`).
fn has_offset(text: &str) -> bool {
    text.len() > 19 && text[19..].contains(['+', '-'])
}

/// A decimal's unscaled value at `scale`, as `width` big-endian two's complement bytes.
fn decimal_bytes(text: &str, scale: u32, width: usize) -> Option<Vec<u8>> {
    let unsigned = text.trim_start_matches(['-', '+']);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = whole.chars().chain(fraction.chars());
    if fraction.len() > scale as usize || !digits.clone().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let padding = std::iter::repeat_n('0', scale as usize - fraction.len());
    let unscaled: String = digits.chain(padding).collect();
    let magnitude: i128 = if unscaled.is_empty() { 0 } else { unscaled.parse().ok()? };
    let value = if text.starts_with('-') { -magnitude } else { magnitude };
    Some(value.to_be_bytes()[16 - width..].to_vec())
}

/// The bytes a DECIMAL of `precision` digits takes: the fewest whose two's complement holds
/// every value of that many digits, as pyarrow writes it.
fn decimal_width(precision: u32) -> usize {
    let largest = 10u128.pow(precision.min(MAX_DECIMAL_DIGITS)) - 1;
    (1..16).find(|&n| largest < 1u128 << (8 * n - 1)).unwrap_or(16)
}

/// Microseconds since the epoch of a timestamp as Python prints it (UTC for one with no offset).
fn timestamp_micros(text: &str) -> Option<i64> {
    if has_offset(text) {
        return text.parse::<jiff::Timestamp>().ok().map(|t| t.as_microsecond());
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    civil.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().as_microsecond())
}

/// Days since the epoch of a date.
fn date_days(text: &str) -> Option<i32> {
    let date: jiff::civil::Date = text.parse().ok()?;
    let seconds = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second();
    i32::try_from(seconds.div_euclid(86_400)).ok()
}

/// Microseconds since midnight of a time of day.
fn time_micros(text: &str) -> Option<i64> {
    let time: jiff::civil::Time = text.parse().ok()?;
    let seconds = i64::from(time.hour()) * 3600 + i64::from(time.minute()) * 60 + i64::from(time.second());
    Some(seconds * 1_000_000 + i64::from(time.subsec_nanosecond()) / 1000)
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Unexpected(format!("Parquet: {e}"))
}

/// A column of the schema.
fn column_schema(name: &str, kind: ColumnType) -> Result<Arc<Type>> {
    let micros = TimeUnit::MICROS;
    let (physical, logical) = match kind {
        ColumnType::Boolean => (Physical::BOOLEAN, None),
        ColumnType::Integer => (Physical::INT64, None),
        ColumnType::Double => (Physical::DOUBLE, None),
        ColumnType::Decimal { precision, scale } => {
            if precision > MAX_DECIMAL_DIGITS {
                return Err(Error::Refused(format!(
                    "column {name}: a decimal of {precision} digits is wider than Parquet's {MAX_DECIMAL_DIGITS}"
                )));
            }
            let logical = LogicalType::Decimal { scale: scale as i32, precision: precision as i32 };
            let builder = Type::primitive_type_builder(name, Physical::FIXED_LEN_BYTE_ARRAY)
                .with_length(decimal_width(precision) as i32)
                .with_precision(precision as i32)
                .with_scale(scale as i32);
            let built = builder.with_repetition(Repetition::OPTIONAL).with_logical_type(Some(logical)).build();
            return built.map(Arc::new).map_err(parquet_error);
        }
        ColumnType::Timestamp { utc } => {
            (Physical::INT64, Some(LogicalType::Timestamp { is_adjusted_to_u_t_c: utc, unit: micros }))
        }
        ColumnType::Date => (Physical::INT32, Some(LogicalType::Date)),
        ColumnType::Time => (Physical::INT64, Some(LogicalType::Time { is_adjusted_to_u_t_c: false, unit: micros })),
        ColumnType::Text => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        ColumnType::Null => (Physical::INT32, Some(LogicalType::Unknown)),
    };
    let built = Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical)
        .build();
    built.map(Arc::new).map_err(parquet_error)
}

/// The bytes the Parquet writer has produced and the output has not taken yet.
#[derive(Clone, Default)]
struct Written(Arc<std::sync::Mutex<Vec<u8>>>);

impl Written {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Written {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Parquet file being written as a stream: each row group's bytes can be taken as soon as
/// the group is written, so no more than a row group is held.
pub struct ParquetOutput {
    names: Vec<String>,
    types: Vec<ColumnType>,
    writer: SerializedFileWriter<Written>,
    written: Written,
}

impl ParquetOutput {
    /// Starts a file for `names` with the types inferred from `first` (the first batch).
    pub fn create(names: &[String], first: &[Vec<Field>]) -> Result<ParquetOutput> {
        let types = infer(names.len(), first);
        let fields = names.iter().zip(&types).map(|(name, kind)| column_schema(name, *kind)).collect::<Result<_>>()?;
        let schema = Arc::new(Type::group_type_builder("schema").with_fields(fields).build().map_err(parquet_error)?);
        let properties = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
        let written = Written::default();
        let writer = SerializedFileWriter::new(written.clone(), schema, properties).map_err(parquet_error)?;
        Ok(ParquetOutput { names: names.to_vec(), types, writer, written })
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
            let present: Vec<&str> = rows.iter().filter_map(|r| r.get(index).and_then(|f| f.text.as_deref())).collect();
            let levels: Vec<i16> =
                rows.iter().map(|r| i16::from(r.get(index).is_some_and(|f| f.text.is_some()))).collect();
            let values = Values { name: &self.names[index], present: &present };
            values.write(&mut column, self.types[index], &levels)?;
            column.close().map_err(parquet_error)?;
            index += 1;
        }
        group.close().map_err(parquet_error)?;
        Ok(())
    }

    /// The file's bytes written since the last call.
    pub fn take(&self) -> Vec<u8> {
        self.written.take()
    }

    /// Ends the file; returns its last bytes (those not taken yet, and the footer).
    pub fn finish(self) -> Result<Vec<u8>> {
        self.writer.close().map_err(parquet_error)?;
        Ok(self.written.take())
    }
}

/// One column's values of a batch (the non-null ones, in order).
struct Values<'a> {
    name: &'a str,
    present: &'a [&'a str],
}

impl Values<'_> {
    /// Each value converted by `convert`; one it cannot convert is refused as not `what`.
    fn converted<T>(&self, what: &str, convert: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
        let refuse = |value: &str| {
            let name = self.name;
            Error::Refused(format!("column {name}: {value:?} is not {what} (the type the first batch gave it)"))
        };
        self.present.iter().map(|v| convert(v).ok_or_else(|| refuse(v))).collect()
    }

    fn write(
        &self,
        column: &mut parquet::file::writer::SerializedColumnWriter<'_>,
        kind: ColumnType,
        levels: &[i16],
    ) -> Result<()> {
        let levels = Some(levels);
        match kind {
            ColumnType::Boolean => {
                let values = self.converted("a boolean", |v| Some(v == "True"))?;
                column.typed::<BoolType>().write_batch(&values, levels, None)
            }
            ColumnType::Integer => {
                let values = self.converted("an integer", |v| v.parse::<i64>().ok())?;
                column.typed::<Int64Type>().write_batch(&values, levels, None)
            }
            ColumnType::Double => {
                let values = self.converted("a number", |v| v.parse::<f64>().ok())?;
                column.typed::<DoubleType>().write_batch(&values, levels, None)
            }
            ColumnType::Decimal { precision, scale } => {
                let width = decimal_width(precision);
                let digits = format!("a decimal of at most {precision} digits, {scale} after the point");
                let values = self.converted(&digits, |v| {
                    let (whole, _) = decimal_digits(v);
                    (whole + scale <= precision).then(|| decimal_bytes(v, scale, width)).flatten()
                })?;
                let values: Vec<FixedLenByteArray> = values.into_iter().map(FixedLenByteArray::from).collect();
                column.typed::<FixedLenByteArrayType>().write_batch(&values, levels, None)
            }
            ColumnType::Timestamp { utc } => {
                let values =
                    self.converted("a timestamp", |v| (has_offset(v) == utc).then(|| timestamp_micros(v)).flatten())?;
                column.typed::<Int64Type>().write_batch(&values, levels, None)
            }
            ColumnType::Date => {
                let values = self.converted("a date", date_days)?;
                column.typed::<Int32Type>().write_batch(&values, levels, None)
            }
            ColumnType::Time => {
                let values = self.converted("a time", time_micros)?;
                column.typed::<Int64Type>().write_batch(&values, levels, None)
            }
            ColumnType::Text => {
                let values: Vec<ByteArray> =
                    self.present.iter().map(|v| ByteArray::from(v.as_bytes().to_vec())).collect();
                column.typed::<ByteArrayType>().write_batch(&values, levels, None)
            }
            ColumnType::Null => {
                let values: Vec<i32> = self.converted("null", |_| None)?;
                column.typed::<Int32Type>().write_batch(&values, levels, None)
            }
        }
        .map(|_| ())
        .map_err(parquet_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

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
            [ColumnType::Integer, ColumnType::Double, ColumnType::Boolean, ColumnType::Text, ColumnType::Null]
        );
        // A decimal column is as wide as the batch's widest whole part plus its longest fraction.
        let decimals = vec![vec![Field::decimal("12.345")], vec![Field::decimal("-1.2")], vec![Field::decimal("0.00")]];
        assert_eq!(infer(1, &decimals), [ColumnType::Decimal { precision: 5, scale: 3 }]);
        let zones = vec![vec![Field::timestamp("2026-01-02 03:04:05+00:00"), Field::timestamp("2026-01-02 03:04:05")]];
        assert_eq!(infer(2, &zones), [ColumnType::Timestamp { utc: true }, ColumnType::Timestamp { utc: false }]);
    }

    #[test]
    fn decimals_take_the_fewest_bytes_and_keep_their_sign() {
        assert_eq!([2, 4, 5, 9, 10, 18, 22, 38].map(decimal_width), [1, 2, 3, 4, 5, 8, 10, 16]);
        assert_eq!(decimal_bytes("12.345", 3, 3), Some(vec![0x00, 0x30, 0x39]));
        assert_eq!(decimal_bytes("-1.2", 3, 3), Some(vec![0xff, 0xfb, 0x50]));
        assert_eq!(decimal_bytes("1.2345", 3, 3), None, "more fraction than the column's scale");
        assert_eq!(decimal_bytes("1e5", 0, 3), None);
    }

    /// Written and read back: each column has the type pyarrow gives the original's values, and
    /// each value is where it was.
    #[test]
    fn a_file_keeps_timestamps_dates_times_and_decimals() {
        let names: Vec<String> = ["ts", "tz", "d", "t", "n", "none"].map(String::from).to_vec();
        let rows = vec![
            vec![
                Field::timestamp("2026-01-02 03:04:05.123456"),
                Field::timestamp("2026-01-02 03:04:05+10:00"),
                Field::date("1969-12-31"),
                Field::time("03:04:05.5"),
                Field::decimal("-12.50"),
                Field::null(),
            ],
            vec![
                Field::null(),
                Field::null(),
                Field::date("2026-01-02"),
                Field::null(),
                Field::decimal("7"),
                Field::null(),
            ],
        ];
        let mut output = ParquetOutput::create(&names, &rows).unwrap();
        output.write(&rows).unwrap();
        let mut bytes = output.take();
        assert!(bytes.starts_with(b"PAR1") && bytes.len() > 4, "the row group is out before the file ends");
        bytes.extend(output.finish().unwrap());
        let path = std::env::temp_dir().join(format!("lava-parquet-test-{}.parquet", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let logical: Vec<String> =
            schema.columns().iter().map(|c| format!("{:?} {:?}", c.physical_type(), c.logical_type_ref())).collect();
        assert_eq!(
            logical,
            [
                "INT64 Some(Timestamp { is_adjusted_to_u_t_c: false, unit: MICROS })",
                "INT64 Some(Timestamp { is_adjusted_to_u_t_c: true, unit: MICROS })",
                "INT32 Some(Date)",
                "INT64 Some(Time { is_adjusted_to_u_t_c: false, unit: MICROS })",
                "FIXED_LEN_BYTE_ARRAY Some(Decimal { scale: 2, precision: 4 })",
                "INT32 Some(Unknown)",
            ]
        );
        let rows: Vec<String> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap().to_string()).collect();
        assert_eq!(
            rows,
            [
                "{ts: 2026-01-02 03:04:05.123456 +00:00, tz: 2026-01-01 17:04:05.000000 +00:00, d: 1969-12-31, t: 03:04:05.500000, n: -12.50, none: null}",
                "{ts: null, tz: null, d: 2026-01-02, t: null, n: 7.00, none: null}",
            ]
        );
        // A later batch's value that is not of its column's type is refused, naming both.
        let mut output = ParquetOutput::create(&names[2..3], &[vec![Field::date("2026-01-02")]]).unwrap();
        let refused = output.write(&[vec![Field::date("tomorrow")]]).unwrap_err().to_string();
        assert_eq!(refused, "column d: \"tomorrow\" is not a date (the type the first batch gave it)");
    }
}
