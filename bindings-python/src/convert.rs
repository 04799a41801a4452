//! Python values to and from the JSON shape of the core's serde types.
//!
//! Requests arrive as plain dicts in the camelCase wire shape; they go through
//! `serde_json::Value` into the Rust type, so Python accepts exactly what the Rust, Node and C
//! APIs accept. A wrong type or unknown field names the path (`attributes.keyAlgorithm`).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use time::OffsetDateTime;

use crate::errors::{IntoPyResult, invalid};

/// Deepest nesting accepted in a request; deeper input is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

/// Deserialize `obj` (a dict, or `None` for `T::default()` when `what` allows) into `T`.
pub fn from_py<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    let py = obj.py();
    let value = to_json(obj, what, 0)?;
    // The core's reading names the field path and never repeats the offending value, the
    // same for every binding.
    certloop::wire::from_value(value, what).py_err(py)
}

/// Like [`from_py`], with `None` meaning `T::default()`.
pub fn from_optional_py<T: DeserializeOwned + Default>(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<T> {
    match obj {
        Some(obj) if !obj.is_none() => from_py(obj, what),
        _ => Ok(T::default()),
    }
}

/// A Python value as JSON; `path` names it in errors.
fn to_json(obj: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<Value> {
    let py = obj.py();
    if depth > MAX_DEPTH {
        return Err(invalid(py, path, "nested too deeply"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(py, path, "integer out of range"));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| invalid(py, path, "must be a finite number"));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, value) in dict.iter() {
            let key = key
                .cast::<PyString>()
                .map_err(|_| invalid(py, path, "dict keys must be strings"))?
                .to_cow()?
                .into_owned();
            let child = format!("{path}.{key}");
            map.insert(key, to_json(&value, &child, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            items.push(to_json(&item?, &format!("{path}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if is_datetime(obj)? {
        if obj.getattr("tzinfo")?.is_none() {
            return Err(invalid(py, path, "a datetime needs a time zone (e.g. timezone.utc)"));
        }
        return Ok(Value::String(obj.call_method0("isoformat")?.extract()?));
    }
    let type_name = obj.get_type().name()?.to_string();
    Err(invalid(py, path, format!("unsupported type {type_name}: use dict, list, str, int, bool")))
}

fn is_datetime(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let datetime = obj.py().import("datetime")?.getattr("datetime")?;
    obj.is_instance(&datetime)
}

/// A serde value as Python (dict, list, str, int, float, bool, None).
pub fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| crate::errors::to_py(py, certloop::Error::store(e)))?;
    json_to_py(py, &json)
}

fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// An aware `datetime.datetime` in UTC.
pub fn datetime<'py>(py: Python<'py>, at: OffsetDateTime) -> PyResult<Bound<'py, PyAny>> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let module = py.import("datetime")?;
    let utc = module.getattr("timezone")?.getattr("utc")?;
    module.getattr("datetime")?.call1((
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond(),
        utc,
    ))
}
