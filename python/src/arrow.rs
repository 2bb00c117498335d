//! Tables across the boundary: the Arrow C stream interface through the `PyCapsule` protocol
//! (`__arrow_c_stream__`), so pyarrow, polars, pandas and Spark take and give tables without
//! copying their columns.
//!
//! Out: a polars `DataFrame` (dropscope-tables builds the events and sessions tables) becomes a
//! [`Table`], a Python object that exports its chunks as a stream of struct arrays, each chunk a
//! record batch. The buffers are shared with the consumer (`polars_arrow::ffi` hands out the
//! `Arc`ed buffers and frees them when the consumer releases the array), not copied.
//! Two columns are adapted on the way, so a table equals what pyarrow reads from the Parquet file
//! `dropscope ingest -o x.parquet` writes: a categorical column's dictionary holds `string`
//! (polars keeps `string_view`; only the distinct texts are converted, the codes are shared), and
//! in tables other than the events, plain text is `string` too (`string_view` is newer and not
//! every consumer takes it; the events keep it for `seq`, as the Parquet file reads back).
//!
//! In: any object with `__arrow_c_stream__` (pyarrow tables and record batch readers, polars and
//! pandas DataFrames, `Table` itself) is read as a stream of struct arrays into a `DataFrame`,
//! whose columns point at the producer's buffers.
//!
//! The protocol (docs/research/python-package.md): a consumer moves the stream out of the capsule
//! and marks the capsule's copy released, so the capsule's destructor frees only a stream nobody
//! took.
#![allow(unsafe_code, reason = "the Arrow C stream interface is a C ABI; see each SAFETY comment")]

use std::ptr::NonNull;

use polars::prelude::{
    ArrowDataType, ArrowField, Column, CompatLevel, DataFrame, DataType, IntoColumn, PlSmallStr,
    Series,
};
use polars_arrow::array::{Array, DictionaryArray, StructArray, Utf8Array, Utf8ViewArray};
use polars_arrow::datatypes::IntegerType;
use polars_arrow::ffi::{ArrowArrayStream, ArrowArrayStreamReader, export_iterator};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// The capsule name the protocol gives an `ArrowArrayStream`.
const STREAM: &std::ffi::CStr = c"arrow_array_stream";

/// A table dropscope made: record batches that any Arrow consumer takes without a copy.
///
/// `pyarrow.table(t)`, `polars.DataFrame(t)` and `pandas.DataFrame.from_arrow`-style readers
/// call `__arrow_c_stream__`; each call exports the same batches again (their buffers are
/// shared, not copied).
#[pyclass(module = "dropscope._native", frozen)]
pub(crate) struct Table {
    /// The struct field whose children are the columns.
    field: ArrowField,
    /// One struct array per record batch.
    batches: Vec<Box<dyn Array>>,
    rows: usize,
}

#[pymethods]
impl Table {
    /// Exports the batches as an Arrow C stream in a `PyCapsule` named `arrow_array_stream`.
    /// A `requested_schema` is not honoured: the table has one schema (the protocol allows it).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let batches = self.batches.clone();
        let stream = export_iterator(Box::new(batches.into_iter().map(Ok)), self.field.clone());
        PyCapsule::new_with_value(py, stream, STREAM)
    }

    /// The number of rows.
    fn __len__(&self) -> usize {
        self.rows
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        match &self.field.dtype {
            ArrowDataType::Struct(fields) => fields.iter().map(|f| f.name.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    fn __repr__(&self) -> String {
        format!("dropscope Table ({} rows: {})", self.rows, self.column_names().join(", "))
    }
}

/// How plain text columns leave: as `string_view` (polars' own) or as `string`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    /// Keep `string_view` (the events table: its `seq` reads back from Parquet so).
    Views,
    /// Convert to `string`.
    Strings,
}

impl Table {
    /// The table of `df`, a record batch per chunk.
    pub(crate) fn from_df(mut df: DataFrame, text: Text) -> PyResult<Table> {
        df.align_chunks_par();
        let rows = df.height();
        let mut fields: Option<Vec<ArrowField>> = None;
        let mut batches = Vec::new();
        for batch in df.iter_chunks(CompatLevel::newest(), false) {
            let schema = batch.schema().clone();
            let height = batch.height();
            let arrays: Vec<Box<dyn Array>> =
                batch.into_arrays().into_iter().map(|array| adapt(array, text)).collect();
            let batch_fields: Vec<ArrowField> = schema
                .iter_values()
                .zip(&arrays)
                .map(|(field, array)| {
                    ArrowField::new(field.name.clone(), array.dtype().clone(), field.is_nullable)
                        .with_metadata(field.metadata.as_deref().cloned().unwrap_or_default())
                })
                .collect();
            let fields = fields.get_or_insert(batch_fields);
            let dtype = ArrowDataType::Struct(fields.clone());
            let array = StructArray::try_new(dtype, height, arrays, None)
                .map_err(|err| PyValueError::new_err(format!("building a record batch: {err}")))?;
            batches.push(array.boxed());
        }
        let fields = fields.unwrap_or_else(|| {
            df.columns()
                .iter()
                .map(|c| {
                    let field = c.field().to_arrow(CompatLevel::newest());
                    let dtype = adapt_dtype(&field.dtype, text);
                    ArrowField::new(field.name, dtype, field.is_nullable)
                })
                .collect()
        });
        let field = ArrowField::new(PlSmallStr::EMPTY, ArrowDataType::Struct(fields), false);
        Ok(Table { field, batches, rows })
    }
}

/// The type `array` of type `dtype` leaves as (see [`adapt`]).
fn adapt_dtype(dtype: &ArrowDataType, text: Text) -> ArrowDataType {
    match dtype {
        ArrowDataType::Dictionary(key, values, sorted) if **values == ArrowDataType::Utf8View => {
            ArrowDataType::Dictionary(*key, Box::new(ArrowDataType::Utf8), *sorted)
        }
        ArrowDataType::Utf8View if text == Text::Strings => ArrowDataType::Utf8,
        other => other.clone(),
    }
}

/// A categorical column's dictionary as `string` (its codes are shared), and plain text as
/// `string` when `text` says so; every other array as it is.
fn adapt(array: Box<dyn Array>, text: Text) -> Box<dyn Array> {
    let dtype = array.dtype().clone();
    match &dtype {
        ArrowDataType::Dictionary(IntegerType::UInt32, values, _)
            if **values == ArrowDataType::Utf8View =>
        {
            let Some(dict) = array.as_any().downcast_ref::<DictionaryArray<u32>>() else {
                return array;
            };
            let Some(view) = dict.values().as_any().downcast_ref::<Utf8ViewArray>() else {
                return array;
            };
            let strings: Utf8Array<i32> = view.iter().collect();
            let new_dtype = adapt_dtype(&dtype, text);
            match DictionaryArray::try_new(new_dtype, dict.keys().clone(), strings.boxed()) {
                Ok(converted) => converted.boxed(),
                Err(_) => array,
            }
        }
        ArrowDataType::Utf8View if text == Text::Strings => {
            let Some(view) = array.as_any().downcast_ref::<Utf8ViewArray>() else {
                return array;
            };
            let strings: Utf8Array<i32> = view.iter().collect();
            strings.boxed()
        }
        _ => array,
    }
}

/// The table `object` exports through `__arrow_c_stream__`, as a `DataFrame` over its buffers;
/// `what` names the argument in errors.
pub(crate) fn import(object: &Bound<'_, PyAny>, what: &str) -> PyResult<DataFrame> {
    if !object.hasattr("__arrow_c_stream__")? {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected a table exporting the Arrow PyCapsule stream interface (__arrow_c_stream__), such as a pyarrow.Table, a polars or pandas DataFrame, or a dropscope table; got {}",
            object.get_type().name()?
        )));
    }
    let capsule = object.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| {
        PyTypeError::new_err(format!("{what}: __arrow_c_stream__ did not return a PyCapsule"))
    })?;
    let pointer: NonNull<ArrowArrayStream> = capsule.pointer_checked(Some(STREAM))?.cast();
    // SAFETY: the capsule is named `arrow_array_stream`, so by the protocol its pointer is a
    // valid, aligned `ArrowArrayStream`, which we move out; the capsule keeps an empty one (no
    // release callback), as the protocol asks of a consumer, and its destructor then frees
    // nothing.
    let stream = unsafe { std::ptr::replace(pointer.as_ptr(), ArrowArrayStream::empty()) };
    let failed = |err: polars::prelude::PolarsError| {
        PyValueError::new_err(format!("{what}: reading its Arrow stream: {err}"))
    };
    // SAFETY: the producer promised a stream that follows the C stream interface.
    let mut reader =
        unsafe { ArrowArrayStreamReader::try_new(Box::new(stream)) }.map_err(failed)?;
    let ArrowDataType::Struct(fields) = reader.field().dtype.clone() else {
        return Err(PyTypeError::new_err(format!(
            "{what}: the Arrow stream is not a table (its type is {:?}, not a struct)",
            reader.field().dtype
        )));
    };
    let mut chunks: Vec<Vec<Box<dyn Array>>> = vec![Vec::new(); fields.len()];
    let mut height = 0;
    // SAFETY: as above; each array the reader imports is one the producer exported.
    while let Some(batch) = unsafe { reader.next() } {
        let batch = batch.map_err(failed)?;
        let Some(batch) = batch.as_any().downcast_ref::<StructArray>() else {
            return Err(PyTypeError::new_err(format!("{what}: a batch is not a struct array")));
        };
        height += batch.len();
        for (column, values) in chunks.iter_mut().zip(batch.values()) {
            column.push(values.clone());
        }
    }
    let columns: Vec<Column> = fields
        .iter()
        .zip(chunks)
        .map(|(field, arrays)| {
            let series = if arrays.is_empty() {
                Series::new_empty(field.name.clone(), &DataType::from_arrow_field(field))
            } else {
                Series::try_from((field.name.clone(), arrays)).map_err(|err| {
                    PyValueError::new_err(format!("{what}: column `{}`: {err}", field.name))
                })?
            };
            Ok(series.into_column())
        })
        .collect::<PyResult<_>>()?;
    DataFrame::new(height, columns).map_err(|err| PyValueError::new_err(format!("{what}: {err}")))
}
