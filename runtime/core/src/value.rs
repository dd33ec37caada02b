//! `Value`: what flows along the edges of a pipeline.

use std::fmt;
use std::sync::Arc;

/// A value produced by a node or given as a parameter.
///
/// Cloning a `Value` never copies its data: text, bytes and lists sit behind
/// an `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (an optional input that nothing feeds receives it).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    Text(Arc<str>),
    /// A byte string.
    Bytes(Arc<[u8]>),
    /// A list of booleans.
    BoolList(Arc<[bool]>),
    /// A list of integers.
    IntList(Arc<[i64]>),
    /// A list of floats.
    FloatList(Arc<[f64]>),
    /// A list of texts.
    TextList(Arc<[String]>),
    /// A host-owned table: a handle, cloned without copying data.
    Table(weavelet_data::Table),
    /// A host-owned SVG document.
    Svg(weavelet_data::Svg),
    /// A host-owned image.
    Image(weavelet_data::Image),
    /// Several images (a folder's worth), each with its name.
    Images(Arc<[weavelet_data::Image]>),
}

/// The declared type of a node's input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Any value: not checked by the host.
    Any,
    /// Only `null`.
    Null,
    /// A boolean.
    Bool,
    /// An integer.
    Int,
    /// A float.
    Float,
    /// Text.
    Text,
    /// Bytes.
    Bytes,
    /// A list of booleans.
    BoolList,
    /// A list of integers.
    IntList,
    /// A list of floats.
    FloatList,
    /// A list of texts.
    TextList,
    /// A table.
    Table,
    /// An SVG document.
    Svg,
    /// An image.
    Image,
    /// A list of images.
    Images,
}

impl ValueType {
    /// The name users write and read (`int`, `float-list`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Any => "any",
            ValueType::Null => "null",
            ValueType::Bool => "bool",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Text => "text",
            ValueType::Bytes => "bytes",
            ValueType::BoolList => "bool-list",
            ValueType::IntList => "int-list",
            ValueType::FloatList => "float-list",
            ValueType::TextList => "text-list",
            ValueType::Table => "table",
            ValueType::Svg => "svg",
            ValueType::Image => "image",
            ValueType::Images => "images",
        }
    }

    /// Parse a type name as written in a manifest.
    pub fn from_name(name: &str) -> Option<ValueType> {
        Some(match name {
            "any" => ValueType::Any,
            "null" => ValueType::Null,
            "bool" | "boolean" => ValueType::Bool,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "text" | "string" => ValueType::Text,
            "bytes" => ValueType::Bytes,
            "bool-list" => ValueType::BoolList,
            "int-list" => ValueType::IntList,
            "float-list" => ValueType::FloatList,
            "text-list" => ValueType::TextList,
            "table" => ValueType::Table,
            "svg" => ValueType::Svg,
            "image" => ValueType::Image,
            "images" => ValueType::Images,
            _ => return None,
        })
    }

    /// A placeholder for a value of this type in help texts (`<int>`, `<float,float,...>`).
    pub fn placeholder(self) -> &'static str {
        match self {
            ValueType::Int => "<int>",
            ValueType::Float => "<float>",
            ValueType::Bool => "<true|false>",
            ValueType::IntList => "<int,int,...>",
            ValueType::FloatList => "<float,float,...>",
            ValueType::BoolList => "<bool,bool,...>",
            ValueType::TextList => "<text,text,...>",
            _ => "<value>",
        }
    }

    /// Whether a value of type `self` may feed an input declared as `input`.
    /// Ints feed floats and int lists feed float lists (widened on the way).
    pub fn feeds(self, input: ValueType) -> bool {
        self == input
            || self == ValueType::Any
            || input == ValueType::Any
            || matches!(
                (self, input),
                (ValueType::Int, ValueType::Float) | (ValueType::IntList, ValueType::FloatList)
            )
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Value {
    /// This value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Null => ValueType::Null,
            Value::Bool(_) => ValueType::Bool,
            Value::Int(_) => ValueType::Int,
            Value::Float(_) => ValueType::Float,
            Value::Text(_) => ValueType::Text,
            Value::Bytes(_) => ValueType::Bytes,
            Value::BoolList(_) => ValueType::BoolList,
            Value::IntList(_) => ValueType::IntList,
            Value::FloatList(_) => ValueType::FloatList,
            Value::TextList(_) => ValueType::TextList,
            Value::Table(_) => ValueType::Table,
            Value::Svg(_) => ValueType::Svg,
            Value::Image(_) => ValueType::Image,
            Value::Images(_) => ValueType::Images,
        }
    }

    /// The approximate number of bytes this value occupies (budgets use it).
    /// A table, SVG or image counts as its handle: its data stays in the host.
    pub fn byte_size(&self) -> usize {
        match self {
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Table(_)
            | Value::Svg(_)
            | Value::Image(_) => 8,
            Value::Images(l) => l.len() * 8,
            Value::Text(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::BoolList(l) => l.len(),
            Value::IntList(l) => l.len() * 8,
            Value::FloatList(l) => l.len() * 8,
            Value::TextList(l) => l.iter().map(|s| s.len() + 8).sum(),
        }
    }

    /// Adapt this value to the type an input declares, where that loses
    /// nothing (the conversions [`ValueType::feeds`] allows): an int where a
    /// float is expected, an int list where a float list is, and an empty list
    /// of any element type.
    pub fn widen_to(self, expected: ValueType) -> Value {
        let empty_list = match &self {
            Value::BoolList(l) => l.is_empty(),
            Value::IntList(l) => l.is_empty(),
            Value::FloatList(l) => l.is_empty(),
            Value::TextList(l) => l.is_empty(),
            _ => false,
        };
        match (self, expected) {
            (Value::Int(i), ValueType::Float) => Value::Float(i as f64),
            (Value::IntList(l), ValueType::FloatList) => {
                Value::FloatList(l.iter().map(|&i| i as f64).collect::<Vec<_>>().into())
            }
            (_, ValueType::IntList) if empty_list => Value::IntList(Vec::new().into()),
            (_, ValueType::FloatList) if empty_list => Value::FloatList(Vec::new().into()),
            (_, ValueType::BoolList) if empty_list => Value::BoolList(Vec::new().into()),
            (_, ValueType::TextList) if empty_list => Value::TextList(Vec::new().into()),
            (v, _) => v,
        }
    }

    /// Parse a parameter given on the command line as `expected`.
    ///
    /// Lists are comma-separated (`1,2,3`); `any` guesses int, float, bool,
    /// then text.
    pub fn parse_as(text: &str, expected: ValueType) -> Result<Value, String> {
        fn list<T: std::str::FromStr>(text: &str, what: &str) -> Result<Vec<T>, String> {
            if text.trim().is_empty() {
                return Ok(Vec::new());
            }
            text.split(',')
                .map(|s| s.trim().parse::<T>().map_err(|_| format!("`{}` is not {what}", s.trim())))
                .collect()
        }
        Ok(match expected {
            ValueType::Null => match text {
                "" | "null" => Value::Null,
                _ => return Err(format!("`{text}` is not null")),
            },
            ValueType::Bool => {
                Value::Bool(text.parse().map_err(|_| format!("`{text}` is not a bool (true or false)"))?)
            }
            ValueType::Int => Value::Int(text.trim().parse().map_err(|_| format!("`{text}` is not an int"))?),
            ValueType::Float => {
                Value::Float(text.trim().parse().map_err(|_| format!("`{text}` is not a float"))?)
            }
            ValueType::Text => Value::Text(text.into()),
            ValueType::Bytes => Value::Bytes(text.as_bytes().into()),
            ValueType::BoolList => Value::BoolList(list(text, "a bool")?.into()),
            ValueType::IntList => Value::IntList(list(text, "an int")?.into()),
            ValueType::FloatList => Value::FloatList(list(text, "a float")?.into()),
            ValueType::TextList => {
                Value::TextList(text.split(',').map(|s| s.to_string()).collect::<Vec<_>>().into())
            }
            ValueType::Table | ValueType::Svg | ValueType::Image | ValueType::Images => {
                return Err(format!(
                    "a{} {expected} cannot be given as text; pass the path of a file and read it in a node",
                    if expected == ValueType::Image { "n" } else { "" }
                ));
            }
            ValueType::Any => {
                if let Ok(i) = text.parse::<i64>() {
                    Value::Int(i)
                } else if let Ok(f) = text.parse::<f64>() {
                    Value::Float(f)
                } else if let Ok(b) = text.parse::<bool>() {
                    Value::Bool(b)
                } else {
                    Value::Text(text.into())
                }
            }
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
            const SHOWN: usize = 10;
            f.write_str("[")?;
            for (i, item) in items.iter().take(SHOWN).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{item}")?;
            }
            if items.len() > SHOWN {
                write!(f, ", … ({} items)", items.len())?;
            }
            f.write_str("]")
        }
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::BoolList(l) => list(f, l),
            Value::IntList(l) => list(f, l),
            Value::FloatList(l) => list(f, l),
            Value::TextList(l) => {
                let quoted: Vec<String> = l.iter().map(|s| format!("{s:?}")).collect();
                list(f, &quoted)
            }
            Value::Table(t) => match t.preview(10) {
                Ok(text) => f.write_str(&text),
                Err(e) => write!(f, "<table that cannot be computed: {e}>"),
            },
            Value::Svg(s) => write!(f, "{s}"),
            Value::Image(i) => write!(f, "{i}"),
            Value::Images(l) => list(f, l),
        }
    }
}

macro_rules! from {
    ($t:ty, $variant:ident, $conv:expr) => {
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant($conv(v))
            }
        }
    };
}

from!(bool, Bool, |v| v);
from!(i64, Int, |v| v);
from!(f64, Float, |v| v);
from!(&str, Text, Arc::from);
from!(String, Text, Arc::from);
from!(Vec<bool>, BoolList, Arc::from);
from!(Vec<i64>, IntList, Arc::from);
from!(Vec<f64>, FloatList, Arc::from);
from!(Vec<String>, TextList, Arc::from);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters_by_declared_type() {
        assert_eq!(Value::parse_as("42", ValueType::Int), Ok(Value::Int(42)));
        assert_eq!(Value::parse_as("1, 2", ValueType::IntList), Ok(Value::from(vec![1i64, 2])));
        assert_eq!(Value::parse_as("2.5", ValueType::Any), Ok(Value::Float(2.5)));
        assert_eq!(Value::parse_as("abc", ValueType::Int), Err("`abc` is not an int".into()));
    }

    #[test]
    fn widening_loses_nothing() {
        assert_eq!(Value::Int(2).widen_to(ValueType::Float), Value::Float(2.0));
        assert_eq!(Value::Float(2.5).widen_to(ValueType::Int), Value::Float(2.5));
        assert_eq!(
            Value::FloatList(Vec::new().into()).widen_to(ValueType::TextList),
            Value::TextList(Vec::new().into())
        );
    }

    #[test]
    fn long_lists_display_abridged() {
        let v = Value::from((0..20).collect::<Vec<i64>>());
        assert_eq!(v.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … (20 items)]");
    }
}
