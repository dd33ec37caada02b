//! Values as bytes for the result cache, and back.
//!
//! One tag byte, then the payload: scalars and lists in little-endian,
//! tables as Arrow IPC, SVG documents as their text (so a document read
//! back prints byte for byte as the one stored), images as PNG with their
//! names. The same bytes fingerprint parameter values.

use weavelet_data::{Image, Svg};

use crate::value::Value;

const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT: u8 = 2;
const FLOAT: u8 = 3;
const TEXT: u8 = 4;
const BYTES: u8 = 5;
const BOOL_LIST: u8 = 6;
const INT_LIST: u8 = 7;
const FLOAT_LIST: u8 = 8;
const TEXT_LIST: u8 = 9;
const TABLE: u8 = 10;
const SVG: u8 = 11;
const IMAGE: u8 = 12;
const IMAGES: u8 = 13;

/// The name of a value's kind, as `weavelet cache ls` shows it.
pub fn kind(value: &Value) -> &'static str {
    value.value_type().name()
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// `value` as bytes. Fails for a table polars cannot write, or an image
/// that cannot be PNG.
pub fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Text(t) => {
            out.push(TEXT);
            put_bytes(&mut out, t.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            put_bytes(&mut out, b);
        }
        Value::BoolList(l) => {
            out.push(BOOL_LIST);
            let bytes: Vec<u8> = l.iter().map(|&b| u8::from(b)).collect();
            put_bytes(&mut out, &bytes);
        }
        Value::IntList(l) => {
            out.push(INT_LIST);
            out.extend_from_slice(&(l.len() as u64).to_le_bytes());
            l.iter().for_each(|i| out.extend_from_slice(&i.to_le_bytes()));
        }
        Value::FloatList(l) => {
            out.push(FLOAT_LIST);
            out.extend_from_slice(&(l.len() as u64).to_le_bytes());
            l.iter().for_each(|f| out.extend_from_slice(&f.to_bits().to_le_bytes()));
        }
        Value::TextList(l) => {
            out.push(TEXT_LIST);
            out.extend_from_slice(&(l.len() as u64).to_le_bytes());
            l.iter().for_each(|t| put_bytes(&mut out, t.as_bytes()));
        }
        Value::Table(t) => {
            out.push(TABLE);
            let ipc = weavelet_data::table::io::to_ipc(t, &[], usize::MAX).map_err(|e| e.to_string())?;
            out.extend_from_slice(&ipc);
        }
        Value::Svg(svg) => {
            out.push(SVG);
            let (size, view_box, counts, body) = svg.to_parts();
            size.iter().for_each(|f| out.extend_from_slice(&f.to_bits().to_le_bytes()));
            match view_box {
                Some(vb) => {
                    out.push(1);
                    vb.iter().for_each(|f| out.extend_from_slice(&f.to_bits().to_le_bytes()));
                }
                None => out.push(0),
            }
            counts.iter().for_each(|c| out.extend_from_slice(&(*c as u64).to_le_bytes()));
            put_bytes(&mut out, body.as_bytes());
        }
        Value::Image(image) => {
            out.push(IMAGE);
            put_image(&mut out, image)?;
        }
        Value::Images(images) => {
            out.push(IMAGES);
            out.extend_from_slice(&(images.len() as u64).to_le_bytes());
            for image in images.iter() {
                put_image(&mut out, image)?;
            }
        }
    }
    Ok(out)
}

fn put_image(out: &mut Vec<u8>, image: &Image) -> Result<(), String> {
    put_bytes(out, image.name().as_bytes());
    let png = image.encode("png").map_err(|e| e.to_string())?;
    put_bytes(out, &png);
    Ok(())
}

/// Reads the payload of [`encode`]: every length is checked against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!("the value is cut short ({n} bytes wanted, {} left)", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_bits(self.u64()?))
    }

    fn len(&mut self, unit: usize) -> Result<usize, String> {
        let n = usize::try_from(self.u64()?).map_err(|_| "a length does not fit".to_string())?;
        if n.saturating_mul(unit) > self.bytes.len() {
            return Err(format!("a length of {n} runs past the end of the value"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.len(1)?;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "text that is not UTF-8".to_string())
    }

    fn image(&mut self) -> Result<Image, String> {
        let name = self.text()?;
        let png = self.bytes()?;
        Image::decode(png, &name).map_err(|e| e.to_string())
    }
}

/// The value [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut r = Reader { bytes };
    let value = match r.u8()? {
        NULL => Value::Null,
        BOOL => Value::Bool(r.u8()? != 0),
        INT => Value::Int(r.u64()? as i64),
        FLOAT => Value::Float(r.f64()?),
        TEXT => Value::Text(r.text()?.into()),
        BYTES => Value::Bytes(r.bytes()?.into()),
        BOOL_LIST => Value::BoolList(r.bytes()?.iter().map(|&b| b != 0).collect::<Vec<_>>().into()),
        INT_LIST => {
            let n = r.len(8)?;
            Value::IntList((0..n).map(|_| r.u64().map(|v| v as i64)).collect::<Result<Vec<_>, _>>()?.into())
        }
        FLOAT_LIST => {
            let n = r.len(8)?;
            Value::FloatList((0..n).map(|_| r.f64()).collect::<Result<Vec<_>, _>>()?.into())
        }
        TEXT_LIST => {
            let n = r.len(8)?;
            Value::TextList((0..n).map(|_| r.text()).collect::<Result<Vec<_>, _>>()?.into())
        }
        TABLE => {
            let ipc = r.take(r.bytes.len())?;
            Value::Table(weavelet_data::table::io::from_ipc(ipc, usize::MAX).map_err(|e| e.to_string())?)
        }
        SVG => {
            let size = [r.f64()?, r.f64()?];
            let view_box = match r.u8()? {
                0 => None,
                _ => Some([r.f64()?, r.f64()?, r.f64()?, r.f64()?]),
            };
            let mut counts = [0usize; 3];
            for c in &mut counts {
                *c = usize::try_from(r.u64()?).map_err(|_| "a count does not fit".to_string())?;
            }
            Value::Svg(Svg::from_parts(size, view_box, counts, r.text()?))
        }
        IMAGE => Value::Image(r.image()?),
        IMAGES => {
            let n = r.len(16)?;
            Value::Images((0..n).map(|_| r.image()).collect::<Result<Vec<_>, _>>()?.into())
        }
        tag => return Err(format!("unknown value tag {tag}")),
    };
    if !r.bytes.is_empty() {
        return Err(format!("{} bytes left over after the value", r.bytes.len()));
    }
    Ok(value)
}

/// Whether a value read back from [`encode`]'s bytes is the value stored:
/// tables by content, documents by text, images by pixels.
#[cfg(test)]
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Table(x), Value::Table(y)) => match (x.collect(), y.collect()) {
            (Ok(x), Ok(y)) => x.equals_missing(&y) && x.schema() == y.schema(),
            _ => false,
        },
        (Value::Svg(x), Value::Svg(y)) => x.to_text() == y.to_text(),
        (Value::Image(x), Value::Image(y)) => x.name() == y.name() && x.pixels() == y.pixels(),
        (Value::Images(x), Value::Images(y)) => {
            x.len() == y.len()
                && x.iter().zip(y.iter()).all(|(x, y)| x.name() == y.name() && x.pixels() == y.pixels())
        }
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::FloatList(x), Value::FloatList(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        _ => a == b,
    }
}

/// A table read back (for tests of the codec itself).
#[cfg(test)]
fn table_of(v: &Value) -> Option<&weavelet_data::Table> {
    if let Value::Table(t) = v { Some(t) } else { None }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_scalar_kind_round_trips() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(f64::NAN),
            Value::Text("héllo".into()),
            Value::Bytes(vec![0, 255].into()),
            Value::BoolList(vec![true, false].into()),
            Value::IntList(vec![1, -2].into()),
            Value::FloatList(vec![1.5, f64::INFINITY].into()),
            Value::TextList(vec!["a".to_string(), String::new()].into()),
        ];
        for v in values {
            let back = decode(&encode(&v).unwrap()).unwrap();
            assert!(same(&v, &back), "{v:?} came back as {back:?}");
        }
    }

    #[test]
    fn a_table_and_a_document_round_trip() {
        let df = weavelet_data::polars::df!("a" => [1i64, 2], "b" => ["x", "y"]).unwrap();
        let v = Value::Table(weavelet_data::Table::from_frame(df));
        let back = decode(&encode(&v).unwrap()).unwrap();
        assert!(same(&v, &back));
        assert_eq!(table_of(&back).unwrap().collect().unwrap().height(), 2);
        let svg =
            Svg::new(20.0, 10.0).unwrap().rect(1.0, 2.0, 3.0, 4.0, &[("fill".into(), "red".into())]).unwrap();
        let back = decode(&encode(&Value::Svg(svg.clone())).unwrap()).unwrap();
        let Value::Svg(back) = back else { panic!("not an svg") };
        assert_eq!(back.to_text(), svg.to_text());
        let grown = back.circle(5.0, 5.0, 1.0, &[]).unwrap();
        let direct = svg.circle(5.0, 5.0, 1.0, &[]).unwrap();
        assert_eq!(grown.to_text(), direct.to_text());
    }

    #[test]
    fn cut_values_are_refused_not_read() {
        let bytes = encode(&Value::TextList(vec!["abc".to_string(); 3].into())).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "a value cut at {cut} bytes was accepted");
        }
    }
}
