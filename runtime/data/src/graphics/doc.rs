//! `Svg`: an immutable SVG document built with the `svg` crate.
//!
//! A document is a size, an optional view box and a list of top-level
//! elements behind `Arc`s, so adding an element copies pointers, not
//! elements. Attributes are checked as they come in: an SVG a node builds is
//! also a file a person opens in a browser, so event handlers (`onload`),
//! `javascript:` and references to anything outside the document (`href`,
//! `url(...)`) are refused. The rasteriser refuses them a second time.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use resvg::usvg;
use svg::Document;
use svg::node::element::{Circle, Element, Ellipse, Group, Line, Path, Polyline, Rectangle, Text};
use svg::node::{Blob, Node};

use super::{GraphicsError, finite};
use crate::files::{ReadGrants, ReadLog};

/// The largest width or height of a document, in user units.
pub const MAX_EXTENT: f64 = 100_000.0;
/// The most elements one document may hold (nested ones count).
pub const MAX_ELEMENTS: usize = 250_000;
/// The most bytes of text (attribute values, text content) one document may hold.
pub const MAX_DOCUMENT_BYTES: usize = 64 << 20;
/// The longest attribute value or text content.
pub const MAX_VALUE: usize = 64 << 10;
/// The deepest nesting of groups and placed documents.
pub const MAX_DEPTH: usize = 64;
/// The largest coordinate or length.
pub const MAX_COORDINATE: f64 = 1e9;

/// An immutable SVG document held by the host. Cloning copies a pointer.
///
/// Building methods take the document by value and return the new one
/// (`svg = svg.rect(...)?`); clone it first to keep the old one. A document
/// held only by its builder grows in place.
#[derive(Clone)]
pub struct Svg(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    width: f64,
    height: f64,
    view_box: Option<[f64; 4]>,
    children: Vec<Arc<Element>>,
    /// Elements, nested ones included.
    elements: usize,
    /// Approximate bytes of text.
    bytes: usize,
    /// Nesting depth of groups and placed documents.
    depth: usize,
    /// Top-level elements as text, before `children`: a document read back
    /// from the result cache, exactly as it was written.
    raw: Option<Arc<str>>,
}

impl fmt::Debug for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Svg({} × {}, {} elements)", self.0.width, self.0.height, self.0.elements)
    }
}

impl PartialEq for Svg {
    fn eq(&self, other: &Svg) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_text() == other.to_text()
    }
}

impl fmt::Display for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<svg {} × {}, {} elements>", num(self.0.width), num(self.0.height), self.0.elements)
    }
}

/// Attributes as a node gives them: (name, value) pairs.
pub type Attrs = [(String, String)];

impl Svg {
    /// An empty document of `width` × `height` user units.
    pub fn new(width: f64, height: f64) -> Result<Svg, GraphicsError> {
        let (width, height) = (extent("width", width)?, extent("height", height)?);
        Ok(Svg(Arc::new(Inner {
            width,
            height,
            view_box: None,
            children: Vec::new(),
            raw: None,
            elements: 0,
            bytes: 0,
            depth: 0,
        })))
    }

    /// Parse SVG text (from a file or a guest). The text is parsed and
    /// re-written by usvg under the same rules as rasterising: gzip input and
    /// external references are refused, scripts and event handlers are
    /// dropped. The result can be placed into other documents.
    pub fn parse(text: &str) -> Result<Svg, GraphicsError> {
        Svg::parse_bytes(text.as_bytes())
    }

    /// [`Svg::parse`] for bytes: compressed SVG is refused, other bytes must be UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Svg, GraphicsError> {
        let _op = crate::activity::enter("svg.parse_bytes");
        static PARSED: AtomicU64 = AtomicU64::new(0);
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(GraphicsError::new("the SVG text is larger than a document may be (64 MiB)"));
        }
        let tree = super::raster::parse(bytes)?;
        let size = tree.size();
        let options = usvg::WriteOptions {
            id_prefix: Some(format!("p{}-", PARSED.fetch_add(1, Ordering::Relaxed))),
            ..usvg::WriteOptions::default()
        };
        let clean = tree.to_string(&options);
        let body = clean
            .trim_start()
            .strip_prefix("<?xml")
            .map_or(clean.as_str(), |rest| rest.find("?>").map_or(rest, |end| &rest[end + 2..]));
        let (width, height) =
            (extent("width", f64::from(size.width()))?, extent("height", f64::from(size.height()))?);
        let element = Element::from(Group::new().add(Blob::new(body.trim().to_string())));
        let bytes = body.len();
        let elements = 1 + body.matches('<').count();
        if bytes > MAX_DOCUMENT_BYTES || elements > MAX_ELEMENTS {
            return Err(GraphicsError::new(format!(
                "the SVG holds {elements} elements in {bytes} bytes once its references are resolved; \
                 a document may hold {MAX_ELEMENTS} elements and 64 MiB"
            )));
        }
        Ok(Svg(Arc::new(Inner {
            width,
            height,
            view_box: None,
            children: vec![Arc::new(element)],
            raw: None,
            elements,
            bytes,
            depth: 1,
        })))
    }

    /// Read an `.svg` file under the node's read grants (see [`Svg::parse`]).
    pub fn read(grants: &ReadGrants, log: &ReadLog, path: &str) -> Result<Svg, GraphicsError> {
        let _op = crate::activity::enter("svg.read");
        let (file, _) = grants.open_file(path, log)?;
        let bytes = crate::files::read_at_most(file, MAX_DOCUMENT_BYTES as u64)
            .map_err(|e| GraphicsError::new(format!("reading `{path}`: {e}")))?
            .ok_or_else(|| {
                GraphicsError::new(format!("`{path}` is larger than an SVG document may be (64 MiB)"))
            })?;
        Svg::parse_bytes(&bytes).map_err(|e| GraphicsError::new(format!("`{path}`: {e}")))
    }

    /// Width in user units.
    pub fn width(&self) -> f64 {
        self.0.width
    }

    /// Height in user units.
    pub fn height(&self) -> f64 {
        self.0.height
    }

    /// The approximate bytes the document takes in memory (its text plus about
    /// 96 bytes per element).
    pub fn byte_size(&self) -> usize {
        self.0.bytes.saturating_add(self.0.elements.saturating_mul(96))
    }

    /// Elements in the document, nested ones included.
    pub fn element_count(&self) -> usize {
        self.0.elements
    }

    /// The same document with this view box (the user-space rectangle shown).
    pub fn view_box(self, x: f64, y: f64, width: f64, height: f64) -> Result<Svg, GraphicsError> {
        let vb = [coord("x", x)?, coord("y", y)?, extent("width", width)?, extent("height", height)?];
        let mut inner = Arc::unwrap_or_clone(self.0);
        inner.view_box = Some(vb);
        Ok(Svg(Arc::new(inner)))
    }

    /// A rectangle at (`x`, `y`).
    pub fn rect(self, x: f64, y: f64, width: f64, height: f64, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let e = Rectangle::new()
            .set("x", num(coord("x", x)?))
            .set("y", num(coord("y", y)?))
            .set("width", num(non_negative("width", width)?))
            .set("height", num(non_negative("height", height)?));
        self.push(e.into(), attrs)
    }

    /// A circle centred on (`cx`, `cy`).
    pub fn circle(self, cx: f64, cy: f64, r: f64, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let e = Circle::new()
            .set("cx", num(coord("cx", cx)?))
            .set("cy", num(coord("cy", cy)?))
            .set("r", num(non_negative("r", r)?));
        self.push(e.into(), attrs)
    }

    /// An ellipse centred on (`cx`, `cy`).
    pub fn ellipse(self, cx: f64, cy: f64, rx: f64, ry: f64, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let e = Ellipse::new()
            .set("cx", num(coord("cx", cx)?))
            .set("cy", num(coord("cy", cy)?))
            .set("rx", num(non_negative("rx", rx)?))
            .set("ry", num(non_negative("ry", ry)?));
        self.push(e.into(), attrs)
    }

    /// A line from (`x1`, `y1`) to (`x2`, `y2`); give it a `stroke`.
    pub fn line(self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let e = Line::new()
            .set("x1", num(coord("x1", x1)?))
            .set("y1", num(coord("y1", y1)?))
            .set("x2", num(coord("x2", x2)?))
            .set("y2", num(coord("y2", y2)?));
        self.push(e.into(), attrs)
    }

    /// A polyline through `points`.
    pub fn polyline(self, points: &[(f64, f64)], attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let mut text = String::with_capacity(points.len() * 12);
        for (i, &(x, y)) in points.iter().enumerate() {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(&format!("{},{}", num(coord("a point's x", x)?), num(coord("a point's y", y)?)));
        }
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(GraphicsError::new("the polyline has more points than a document may hold"));
        }
        let size = text.len();
        self.push_sized(
            Polyline::new().set("points", text).into(),
            attrs,
            Nested { bytes: size, ..Nested::NONE },
        )
    }

    /// A path with path data `d` (`M 0 0 L 10 10 Z`).
    pub fn path(self, d: &str, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        check_value("d", d)?;
        if let Some(bad) = d.chars().find(|c| !(c.is_ascii_alphanumeric() || " ,.-+\t\r\n".contains(*c))) {
            return Err(GraphicsError::new(format!(
                "path data may hold commands and numbers only, not `{bad}`"
            )));
        }
        self.push_sized(Path::new().set("d", d).into(), attrs, Nested { bytes: d.len(), ..Nested::NONE })
    }

    /// Text at (`x`, `y`) (the baseline's start, unless `text-anchor` says otherwise).
    pub fn text(self, x: f64, y: f64, content: &str, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        check_value("text", content)?;
        let e = Text::new(content).set("x", num(coord("x", x)?)).set("y", num(coord("y", y)?));
        self.push_sized(e.into(), attrs, Nested { bytes: content.len(), ..Nested::NONE })
    }

    /// The elements of `content` wrapped in a group (`<g>`) with these
    /// attributes (`transform`, `fill`, `opacity`, ...), added to this document.
    pub fn group(self, content: &Svg, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        let _op = crate::activity::enter("svg.group");
        let mut g = Group::new();
        if let Some(raw) = &content.0.raw {
            g = g.add(Blob::new(&**raw));
        }
        for child in &content.0.children {
            g = g.add((**child).clone());
        }
        self.push_sized(g.into(), attrs, Nested::of(content))
    }

    /// `content` placed at (`x`, `y`) and drawn `scale` times its size (a
    /// nested `<svg>`, so its own view box and clipping hold): how a dashboard
    /// composes charts.
    pub fn place(self, content: &Svg, x: f64, y: f64, scale: f64) -> Result<Svg, GraphicsError> {
        let _op = crate::activity::enter("svg.place");
        let scale = coord("scale", scale)?;
        if scale <= 0.0 || scale > 1000.0 {
            return Err(GraphicsError::new(format!(
                "scale must be above 0 and at most 1000, not {}",
                super::shown(scale)
            )));
        }
        let c = &content.0;
        let vb = c.view_box.unwrap_or([0.0, 0.0, c.width, c.height]);
        let mut nested = Element::new("svg");
        nested.assign("x", num(coord("x", x)?));
        nested.assign("y", num(coord("y", y)?));
        nested.assign("width", num(c.width * scale));
        nested.assign("height", num(c.height * scale));
        nested.assign("viewBox", format!("{} {} {} {}", num(vb[0]), num(vb[1]), num(vb[2]), num(vb[3])));
        if let Some(raw) = &c.raw {
            nested.append(Blob::new(&**raw));
        }
        for child in &c.children {
            nested.append((**child).clone());
        }
        self.push_sized(nested, &[], Nested::of(content))
    }

    /// The document's parts for the result cache: size, view box, counts and
    /// the text of its top-level elements.
    pub fn to_parts(&self) -> ([f64; 2], Option<[f64; 4]>, [usize; 3], String) {
        let inner = &self.0;
        let body: Vec<String> = inner
            .raw
            .iter()
            .map(|r| r.to_string())
            .chain(inner.children.iter().map(|c| c.to_string()))
            .collect();
        (
            [inner.width, inner.height],
            inner.view_box,
            [inner.elements, inner.bytes, inner.depth],
            body.join("\n"),
        )
    }

    /// A document from [`Svg::to_parts`]. Only for text this process family
    /// wrote and checksummed (the result cache): the body is not checked
    /// again, so never give it text from anywhere else.
    pub fn from_parts(size: [f64; 2], view_box: Option<[f64; 4]>, counts: [usize; 3], body: String) -> Svg {
        Svg(Arc::new(Inner {
            width: size[0],
            height: size[1],
            view_box,
            children: Vec::new(),
            elements: counts[0],
            bytes: counts[1],
            depth: counts[2],
            raw: (!body.is_empty()).then(|| body.into()),
        }))
    }

    /// The document as SVG text.
    pub fn to_text(&self) -> String {
        let inner = &self.0;
        let vb = inner.view_box.unwrap_or([0.0, 0.0, inner.width, inner.height]);
        let mut doc = Document::new()
            .set("width", num(inner.width))
            .set("height", num(inner.height))
            .set("viewBox", format!("{} {} {} {}", num(vb[0]), num(vb[1]), num(vb[2]), num(vb[3])));
        if let Some(raw) = &inner.raw {
            doc = doc.add(Blob::new(&**raw));
        }
        for child in &inner.children {
            doc = doc.add((**child).clone());
        }
        let mut text = doc.to_string();
        text.push('\n');
        text
    }

    fn push(self, element: Element, attrs: &Attrs) -> Result<Svg, GraphicsError> {
        self.push_sized(element, attrs, Nested::NONE)
    }

    /// Add `element` with `attrs`; it carries `nested` content.
    fn push_sized(self, mut element: Element, attrs: &Attrs, nested: Nested) -> Result<Svg, GraphicsError> {
        let mut bytes = 32;
        for (name, value) in attrs {
            check_attribute(name, value)?;
            if element.get_attributes().contains_key(name.as_str()) {
                return Err(GraphicsError::new(format!(
                    "attribute `{name}` of a {} is set from its arguments; it cannot be given again",
                    element.get_name()
                )));
            }
            bytes += name.len() + value.len() + 4;
            element.assign(name.as_str(), value.as_str());
        }
        let depth = self.0.depth.max(nested.depth + 1);
        if depth > MAX_DEPTH {
            return Err(GraphicsError::new(format!(
                "groups and placed documents may nest {MAX_DEPTH} deep, not {depth}"
            )));
        }
        let nested_bytes = nested.bytes;
        let nested = nested.elements;
        let elements = self.0.elements.saturating_add(1).saturating_add(nested);
        let bytes = self.0.bytes.saturating_add(bytes).saturating_add(nested_bytes);
        if elements > MAX_ELEMENTS {
            return Err(GraphicsError::new(format!(
                "the document would hold {elements} elements, more than the {MAX_ELEMENTS} allowed"
            )));
        }
        if bytes > MAX_DOCUMENT_BYTES {
            return Err(GraphicsError::new("the document would be larger than the 64 MiB allowed"));
        }
        // A document nobody else holds grows in place (a chart of 100 000 points is
        // built in linear time); a shared one is copied (its element pointers only).
        let mut inner = Arc::unwrap_or_clone(self.0);
        inner.children.push(Arc::new(element));
        inner.elements = elements;
        inner.bytes = bytes;
        inner.depth = depth;
        Ok(Svg(Arc::new(inner)))
    }
}

/// What an added element carries besides itself.
#[derive(Clone, Copy)]
struct Nested {
    elements: usize,
    bytes: usize,
    depth: usize,
}

impl Nested {
    const NONE: Nested = Nested { elements: 0, bytes: 0, depth: 0 };

    /// The content of another document (a group or a placement).
    fn of(content: &Svg) -> Nested {
        Nested { elements: content.0.elements, bytes: content.0.bytes, depth: content.0.depth }
    }
}

/// A number as SVG writes it: integers without a fraction, others to 3 decimals.
pub(crate) fn num(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    if rounded == rounded.trunc() && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

fn extent(what: &str, v: f64) -> Result<f64, GraphicsError> {
    let v = finite(what, v)?;
    if v <= 0.0 || v > MAX_EXTENT {
        return Err(GraphicsError::new(format!(
            "{what} must be above 0 and at most {MAX_EXTENT}, not {}",
            super::shown(v)
        )));
    }
    Ok(v)
}

/// A coordinate or length: finite and within ±1e9 (larger ones cannot be written as SVG numbers).
fn coord(what: &str, v: f64) -> Result<f64, GraphicsError> {
    let v = finite(what, v)?;
    if v.abs() > MAX_COORDINATE {
        return Err(GraphicsError::new(format!("{what} must be within ±{MAX_COORDINATE:e}, not {v}")));
    }
    Ok(v)
}

fn non_negative(what: &str, v: f64) -> Result<f64, GraphicsError> {
    let v = coord(what, v)?;
    if v < 0.0 {
        return Err(GraphicsError::new(format!("{what} must not be negative, not {v}")));
    }
    Ok(v)
}

fn check_value(what: &str, value: &str) -> Result<(), GraphicsError> {
    if value.len() > MAX_VALUE {
        return Err(GraphicsError::new(format!(
            "{what} is {} bytes long, more than the {MAX_VALUE} allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Check one attribute a node gives: a plain name, no event handlers, no
/// references outside the document, no scripts.
pub(crate) fn check_attribute(name: &str, value: &str) -> Result<(), GraphicsError> {
    let plain = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if !plain {
        return Err(GraphicsError::new(format!(
            "`{name}` is not an attribute name (letters, digits, `-`, `_`, `:` and `.`, starting with a letter)"
        )));
    }
    check_value(&format!("attribute `{name}`"), value)?;
    let lower_name = name.to_ascii_lowercase();
    if lower_name.starts_with("on") {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` is an event handler; documents cannot carry scripts"
        )));
    }
    let lower = value.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("javascript:") || compact.contains("<script") {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` holds a script; documents cannot carry scripts"
        )));
    }
    if (lower_name == "href" || lower_name.ends_with(":href")) && !value.trim_start().starts_with('#') {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` refers to `{value}` outside the document; only `#id` references are allowed"
        )));
    }
    let mut rest = compact.as_str();
    while let Some(at) = rest.find("url(") {
        rest = &rest[at + 4..];
        if !rest.trim_start_matches(['"', '\'']).starts_with('#') {
            return Err(GraphicsError::new(format!(
                "attribute `{name}` refers outside the document (`url(...)`); only `url(#id)` is allowed"
            )));
        }
    }
    let plain_filter = |v: &str| v == "none" || v.starts_with("url(#");
    if lower_name == "filter" && !plain_filter(&compact) {
        return Err(GraphicsError::new(format!(
            "filter `{value}` is refused: only `url(#id)` filters defined in the document (their cost is bounded)"
        )));
    }
    if let Some(at) = compact.find("filter:")
        && !plain_filter(&compact[at + 7..])
    {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` sets a CSS filter function; only `url(#id)` filters are allowed"
        )));
    }
    if value.contains('\\') {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` holds a backslash; CSS escapes are refused (they can hide `url(`)"
        )));
    }
    if compact.contains("image-set(") || compact.contains("src(") {
        return Err(GraphicsError::new(format!(
            "attribute `{name}` refers outside the document; that is refused"
        )));
    }
    if compact.contains("@import") {
        return Err(GraphicsError::new(format!("attribute `{name}` imports a style sheet; that is refused")));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn a(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn quotes_in_values_stay_inside_their_attribute() {
        let svg = Svg::new(10.0, 10.0)
            .and_then(|s| s.rect(0.0, 0.0, 1.0, 1.0, &a(&[("fill", "red\" onmouseover=\"alert(1)")])))
            .expect("a value is only text");
        let text = svg.to_text();
        assert!(text.contains(r#"fill="red&quot; onmouseover=&quot;alert(1)""#), "{text}");
    }

    #[test]
    fn geometry_nesting_and_size_are_bounded() {
        let svg = Svg::new(10.0, 10.0).expect("valid");
        let e = svg.clone().path("M 0 0", &a(&[("d", "M 0 0 L 1 1 Q")])).expect_err("d is given twice");
        assert!(e.message.contains("set from its arguments"), "{e}");
        assert!(svg.clone().rect(1e300, 0.0, 1.0, 1.0, &[]).is_err(), "beyond ±1e9");
        for (name, value) in [
            ("style", "fill:u\\72l(http://x/)"),
            ("filter", "blur(250)"),
            ("style", "filter: drop-shadow(0 0 9px red)"),
        ] {
            assert!(svg.clone().rect(0.0, 0.0, 1.0, 1.0, &a(&[(name, value)])).is_err(), "{name}={value}");
        }
        assert!(svg.clone().rect(0.0, 0.0, 1.0, 1.0, &a(&[("filter", "url(#soft)")])).is_ok());
        let mut nested = Svg::new(10.0, 10.0).expect("valid");
        for _ in 0..MAX_DEPTH {
            nested = Svg::new(10.0, 10.0).and_then(|s| s.group(&nested, &[])).expect("within the depth");
        }
        let e = Svg::new(10.0, 10.0).and_then(|s| s.group(&nested, &[])).expect_err("one level too deep");
        assert!(e.message.contains("nest 64 deep"), "{e}");
        // Text counts towards the document's size.
        let long = "x".repeat(MAX_VALUE);
        let mut doc = Svg::new(10.0, 10.0).expect("valid");
        let mut refused = false;
        for _ in 0..(MAX_DOCUMENT_BYTES / MAX_VALUE + 1) {
            match doc.clone().text(0.0, 0.0, &long, &[]) {
                Ok(d) => doc = d,
                Err(_) => {
                    refused = true;
                    break;
                }
            }
        }
        assert!(refused, "64 MiB of text is the most a document holds");
    }

    #[test]
    fn a_shared_document_is_not_changed_by_building_on_it() {
        let base = Svg::new(10.0, 10.0).and_then(|s| s.rect(0.0, 0.0, 1.0, 1.0, &[])).expect("valid");
        let kept = base.clone();
        let grown = base.circle(1.0, 1.0, 1.0, &[]).expect("valid");
        assert_eq!((kept.element_count(), grown.element_count()), (1, 2));
        assert!(!kept.to_text().contains("circle"));
    }

    #[test]
    fn builds_and_serialises_in_a_stable_order() {
        let svg = Svg::new(100.0, 50.0)
            .and_then(|s| s.rect(0.0, 0.0, 10.0, 5.5, &a(&[("fill", "red")])))
            .and_then(|s| s.text(1.0, 2.0, "a < b", &[]))
            .expect("valid document");
        let text = svg.to_text();
        assert!(text.contains(r#"<rect fill="red" height="5.5" width="10" x="0" y="0"/>"#), "{text}");
        assert!(text.contains("a &lt; b"), "{text}");
        assert_eq!(svg.element_count(), 2);
    }

    #[test]
    fn refuses_scripts_and_outside_references() {
        let svg = Svg::new(10.0, 10.0).expect("valid");
        for (name, value) in [
            ("onload", "alert(1)"),
            ("href", "/etc/passwd"),
            ("xlink:href", "file:///etc/passwd"),
            ("fill", "url(http://x/y)"),
            ("style", "fill: url( '/etc/passwd' )"),
            ("style", "background: javascript:alert(1)"),
            ("bad name", "x"),
        ] {
            assert!(
                svg.clone().rect(0.0, 0.0, 1.0, 1.0, &a(&[(name, value)])).is_err(),
                "{name}={value} accepted"
            );
        }
        assert!(svg.clone().rect(0.0, 0.0, 1.0, 1.0, &a(&[("fill", "url(#grad)"), ("href", "#a")])).is_ok());
        assert!(svg.clone().rect(f64::NAN, 0.0, 1.0, 1.0, &[]).is_err());
        assert!(svg.path("M0 0 L 1 1 Z\"/><script>", &[]).is_err());
    }
}
