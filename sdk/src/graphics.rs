//! [`Svg`] and [`Image`]: handles to SVG documents and images the host holds.

use std::fmt;

use crate::bindings::weavelet::node::types as raw;
use crate::{FromValue, IntoValue, Table, Value, ValueType};

pub use raw::{ChartKind, ChartSpec};

/// Why the host refused an SVG or image operation (a message for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsError(pub String);

impl fmt::Display for GraphicsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GraphicsError {}

type Result<T> = std::result::Result<T, GraphicsError>;

fn svg(r: std::result::Result<raw::Svg, String>) -> Result<Svg> {
    r.map(Svg).map_err(GraphicsError)
}

fn image(r: std::result::Result<raw::Image, String>) -> Result<Image> {
    r.map(Image).map_err(GraphicsError)
}

fn attrs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// A chart spec of `kind` over column `x` and value columns `y`, with
/// default size and labels; set the other fields with struct update syntax.
pub fn chart_spec(kind: ChartKind, x: &str, y: &[&str], title: &str) -> ChartSpec {
    ChartSpec {
        kind,
        x: x.to_string(),
        y: y.iter().map(|s| s.to_string()).collect(),
        title: title.to_string(),
        x_label: String::new(),
        y_label: String::new(),
        width: 0.0,
        height: 0.0,
        bins: 0,
    }
}

/// An SVG document held by the host. Every operation returns a new document.
/// Attributes are `(name, value)` pairs; event handlers, scripts and
/// references outside the document are refused.
///
/// ```no_run
/// use weavelet_sdk as weavelet;
/// use weavelet::{ChartKind, Svg, Table, chart_spec};
///
/// /// Revenue per region as a bar chart.
/// #[weavelet::node]
/// fn chart(totals: Table) -> Result<Svg, weavelet::GraphicsError> {
///     Svg::chart(&totals, &chart_spec(ChartKind::Bar, "region", &["revenue"], "Revenue by region"))
/// }
/// # fn main() {}
/// ```
pub struct Svg(raw::Svg);

impl Svg {
    /// An empty document of `width` × `height` user units.
    pub fn new(width: f64, height: f64) -> Result<Svg> {
        svg(raw::Svg::create(width, height))
    }

    /// SVG text, parsed and cleaned by the host.
    pub fn parse(text: &str) -> Result<Svg> {
        svg(raw::Svg::parse(text))
    }

    /// An `.svg` file under a directory the pipeline grants read access to.
    pub fn read(path: &str) -> Result<Svg> {
        svg(raw::Svg::read(path))
    }

    /// A chart of `data` (see [`chart_spec`]).
    pub fn chart(data: &Table, spec: &ChartSpec) -> Result<Svg> {
        svg(raw::Svg::chart(&data.0, spec))
    }

    /// A metric card: a label, a big value and a detail line (may be empty).
    pub fn card(label: &str, value: &str, detail: &str) -> Result<Svg> {
        svg(raw::Svg::card(label, value, detail))
    }

    /// Documents arranged in a grid of `columns` under a title.
    pub fn dashboard(title: &str, items: &[&Svg], columns: u32) -> Result<Svg> {
        let items: Vec<&raw::Svg> = items.iter().map(|s| &s.0).collect();
        svg(raw::Svg::dashboard(title, &items, columns))
    }

    /// Width in user units.
    pub fn width(&self) -> f64 {
        self.0.width()
    }

    /// Height in user units.
    pub fn height(&self) -> f64 {
        self.0.height()
    }

    /// The user-space rectangle shown.
    pub fn view_box(&self, x: f64, y: f64, width: f64, height: f64) -> Result<Svg> {
        svg(self.0.view_box(x, y, width, height))
    }

    /// A rectangle.
    pub fn rect(&self, x: f64, y: f64, width: f64, height: f64, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.rect(x, y, width, height, &attrs(attributes)))
    }

    /// A circle.
    pub fn circle(&self, cx: f64, cy: f64, r: f64, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.circle(cx, cy, r, &attrs(attributes)))
    }

    /// An ellipse.
    pub fn ellipse(&self, cx: f64, cy: f64, rx: f64, ry: f64, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.ellipse(cx, cy, rx, ry, &attrs(attributes)))
    }

    /// A line.
    pub fn line(&self, x1: f64, y1: f64, x2: f64, y2: f64, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.line(x1, y1, x2, y2, &attrs(attributes)))
    }

    /// A polyline through `points`.
    pub fn polyline(&self, points: &[(f64, f64)], attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.polyline(points, &attrs(attributes)))
    }

    /// A path with path data `d`.
    pub fn path(&self, d: &str, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.path(d, &attrs(attributes)))
    }

    /// Text at (`x`, `y`).
    pub fn text(&self, x: f64, y: f64, content: &str, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.text(x, y, content, &attrs(attributes)))
    }

    /// The elements of `content` in a group with these attributes.
    pub fn group(&self, content: &Svg, attributes: &[(&str, &str)]) -> Result<Svg> {
        svg(self.0.group(&content.0, &attrs(attributes)))
    }

    /// `content` drawn at (`x`, `y`), `scale` times its size.
    pub fn place(&self, content: &Svg, x: f64, y: f64, scale: f64) -> Result<Svg> {
        svg(self.0.place(&content.0, x, y, scale))
    }

    /// The document as SVG text.
    pub fn to_text(&self) -> Result<String> {
        self.0.to_text().map_err(GraphicsError)
    }

    /// The document drawn into an image, `scale` times its size.
    pub fn render(&self, scale: f64) -> Result<Image> {
        image(self.0.render(scale))
    }
}

/// An image held by the host. Every operation returns a new image.
pub struct Image(raw::Image);

impl Image {
    /// Decode PNG, JPEG, WebP or GIF bytes.
    pub fn decode(bytes: &[u8]) -> Result<Image> {
        image(raw::Image::decode(bytes))
    }

    /// An image file under a granted directory; its name is the file's stem.
    pub fn read(path: &str) -> Result<Image> {
        image(raw::Image::read(path))
    }

    /// The image files in a granted directory, sorted, as paths for [`Image::read`].
    pub fn list(dir: &str) -> Result<Vec<String>> {
        raw::Image::list_images(dir).map_err(GraphicsError)
    }

    /// A canvas of one colour.
    pub fn blank(width: u32, height: u32, rgba: [u8; 4]) -> Result<Image> {
        image(raw::Image::blank(width, height, (rgba[0], rgba[1], rgba[2], rgba[3])))
    }

    /// The images in a grid of `columns`, each fitted into a cell, `gap` pixels apart.
    pub fn contact_sheet(
        images: &[&Image],
        columns: u32,
        cell_width: u32,
        cell_height: u32,
        gap: u32,
    ) -> Result<Image> {
        let raw: Vec<&raw::Image> = images.iter().map(|i| &i.0).collect();
        image(raw::Image::contact_sheet(&raw, columns, cell_width, cell_height, gap))
    }

    /// The image's name (its file's stem when it was read).
    pub fn name(&self) -> String {
        self.0.name()
    }

    /// The same pixels under another name.
    pub fn with_name(&self, name: &str) -> Result<Image> {
        image(self.0.with_name(name))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.0.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.0.height()
    }

    /// Exactly `width` × `height`.
    pub fn resize(&self, width: u32, height: u32) -> Result<Image> {
        image(self.0.resize(width, height))
    }

    /// Scaled down to fit, keeping proportions.
    pub fn thumbnail(&self, max_width: u32, max_height: u32) -> Result<Image> {
        image(self.0.thumbnail(max_width, max_height))
    }

    /// The rectangle at (`x`, `y`).
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Image> {
        image(self.0.crop(x, y, width, height))
    }

    /// Clockwise by 90, 180 or 270 degrees.
    pub fn rotate(&self, degrees: i32) -> Result<Image> {
        image(self.0.rotate(degrees))
    }

    /// Mirrored left to right (`horizontal`) or top to bottom.
    pub fn flip(&self, horizontal: bool) -> Result<Image> {
        image(self.0.flip(horizontal))
    }

    /// In shades of grey.
    pub fn grayscale(&self) -> Result<Image> {
        image(self.0.grayscale())
    }

    /// Blurred (Gaussian, `sigma` pixels).
    pub fn blur(&self, sigma: f64) -> Result<Image> {
        image(self.0.blur(sigma))
    }

    /// Brighter or darker (-255 to 255).
    pub fn brighten(&self, amount: i32) -> Result<Image> {
        image(self.0.brighten(amount))
    }

    /// More or less contrast (-100 to 100 percent).
    pub fn contrast(&self, percent: f64) -> Result<Image> {
        image(self.0.contrast(percent))
    }

    /// `top` drawn over this image at (`x`, `y`).
    pub fn overlay(&self, top: &Image, x: i64, y: i64) -> Result<Image> {
        image(self.0.overlay(&top.0, x, y))
    }

    /// Encoded as `png`, `jpeg` or `webp`.
    pub fn encode(&self, format: &str) -> Result<Vec<u8>> {
        self.0.encode(format).map_err(GraphicsError)
    }
}

impl fmt::Debug for Svg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Svg(<host handle>)")
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Image(<host handle>)")
    }
}

handle_value!(Svg, Svg, "svg");
handle_value!(Image, Image, "image");

impl FromValue for Vec<Image> {
    const TYPE: ValueType = ValueType::Images;
    fn from_value(value: Value) -> std::result::Result<Self, String> {
        match value {
            Value::Images(l) => Ok(l.into_iter().map(Image).collect()),
            other => Err(format!("expected images, got {}", crate::type_name(&other))),
        }
    }
}

impl IntoValue for Vec<Image> {
    const TYPE: ValueType = ValueType::Images;
    fn into_value(self) -> Value {
        Value::Images(self.into_iter().map(|i| i.0).collect())
    }
}
