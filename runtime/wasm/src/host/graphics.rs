//! The `svg` and `image` resources of the WIT contract: thin checks around
//! `weavelet-data`'s graphics, which validate everything a guest passes.

use wasmtime::component::Resource;

use weavelet_data::graphics::{chart, raster};
use weavelet_data::{ChartKind, ChartSpec, GraphicsError, Image, Svg, Table};

use super::wit;
use crate::host::NodeState;

type SvgResult = Result<Resource<Svg>, String>;
type ImageResult = Result<Resource<Image>, String>;
type Attrs = Vec<(String, String)>;

fn msg(e: GraphicsError) -> String {
    e.message
}

fn chart_spec(spec: wit::ChartSpec) -> ChartSpec {
    ChartSpec {
        kind: match spec.kind {
            wit::ChartKind::Bar => ChartKind::Bar,
            wit::ChartKind::HorizontalBar => ChartKind::HorizontalBar,
            wit::ChartKind::Line => ChartKind::Line,
            wit::ChartKind::Scatter => ChartKind::Scatter,
            wit::ChartKind::Histogram => ChartKind::Histogram,
            wit::ChartKind::Metric => ChartKind::Metric,
        },
        x: spec.x,
        y: spec.y,
        title: spec.title,
        x_label: spec.x_label,
        y_label: spec.y_label,
        width: spec.width,
        height: spec.height,
        bins: spec.bins,
    }
}

impl wit::HostSvg for NodeState {
    fn create(&mut self, width: f64, height: f64) -> SvgResult {
        let svg = Svg::new(width, height).map_err(msg)?;
        self.put(svg)
    }

    fn parse(&mut self, text: String) -> SvgResult {
        let svg = Svg::parse(&text).map_err(msg)?;
        self.put(svg)
    }

    fn read(&mut self, path: String) -> SvgResult {
        let svg = Svg::read(&self.files, &self.reads, &path).map_err(msg)?;
        self.put(svg)
    }

    fn chart(&mut self, data: Resource<Table>, spec: wit::ChartSpec) -> SvgResult {
        let table = self.get(&data)?;
        let svg = chart::chart(&table, &chart_spec(spec)).map_err(msg)?;
        self.put(svg)
    }

    fn card(&mut self, label: String, value: String, detail: String) -> SvgResult {
        let svg = chart::card(&label, &value, &detail).map_err(msg)?;
        self.put(svg)
    }

    fn dashboard(&mut self, title: String, items: Vec<Resource<Svg>>, columns: u32) -> SvgResult {
        let items = items.iter().map(|h| self.get(h)).collect::<Result<Vec<_>, _>>()?;
        let svg = chart::dashboard(&title, &items, columns).map_err(msg)?;
        self.put(svg)
    }

    fn width(&mut self, this: Resource<Svg>) -> f64 {
        self.get(&this).map_or(0.0, |s| s.width())
    }

    fn height(&mut self, this: Resource<Svg>) -> f64 {
        self.get(&this).map_or(0.0, |s| s.height())
    }

    fn view_box(&mut self, this: Resource<Svg>, x: f64, y: f64, width: f64, height: f64) -> SvgResult {
        self.derive_graphic(&this, |s| s.view_box(x, y, width, height))
    }

    fn rect(
        &mut self,
        this: Resource<Svg>,
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        attrs: Attrs,
    ) -> SvgResult {
        self.derive_graphic(&this, |s| s.rect(x, y, width, height, &attrs))
    }

    fn circle(&mut self, this: Resource<Svg>, cx: f64, cy: f64, r: f64, attrs: Attrs) -> SvgResult {
        self.derive_graphic(&this, |s| s.circle(cx, cy, r, &attrs))
    }

    fn ellipse(
        &mut self,
        this: Resource<Svg>,
        cx: f64,
        cy: f64,
        rx: f64,
        ry: f64,
        attrs: Attrs,
    ) -> SvgResult {
        self.derive_graphic(&this, |s| s.ellipse(cx, cy, rx, ry, &attrs))
    }

    fn line(&mut self, this: Resource<Svg>, x1: f64, y1: f64, x2: f64, y2: f64, attrs: Attrs) -> SvgResult {
        self.derive_graphic(&this, |s| s.line(x1, y1, x2, y2, &attrs))
    }

    fn polyline(&mut self, this: Resource<Svg>, points: Vec<(f64, f64)>, attrs: Attrs) -> SvgResult {
        self.derive_graphic(&this, |s| s.polyline(&points, &attrs))
    }

    fn path(&mut self, this: Resource<Svg>, d: String, attrs: Attrs) -> SvgResult {
        self.derive_graphic(&this, |s| s.path(&d, &attrs))
    }

    fn text(&mut self, this: Resource<Svg>, x: f64, y: f64, content: String, attrs: Attrs) -> SvgResult {
        self.derive_graphic(&this, |s| s.text(x, y, &content, &attrs))
    }

    fn group(&mut self, this: Resource<Svg>, content: Resource<Svg>, attrs: Attrs) -> SvgResult {
        let content = self.get(&content)?;
        self.derive_graphic(&this, |s| s.group(&content, &attrs))
    }

    fn place(
        &mut self,
        this: Resource<Svg>,
        content: Resource<Svg>,
        x: f64,
        y: f64,
        scale: f64,
    ) -> SvgResult {
        let content = self.get(&content)?;
        self.derive_graphic(&this, |s| s.place(&content, x, y, scale))
    }

    fn to_text(&mut self, this: Resource<Svg>) -> Result<String, String> {
        let text = self.get(&this)?.to_text();
        self.bytes_out(text, "the SVG text")
    }

    fn render(&mut self, this: Resource<Svg>, scale: f64) -> ImageResult {
        let svg = self.get(&this)?;
        let image = raster::render(&svg, scale).map_err(msg)?;
        self.put(image)
    }

    fn drop(&mut self, rep: Resource<Svg>) -> wasmtime::Result<()> {
        self.take(rep).map_err(wasmtime::Error::msg)?;
        Ok(())
    }
}

impl wit::HostImage for NodeState {
    fn decode(&mut self, bytes: Vec<u8>) -> ImageResult {
        let image = Image::decode(&bytes, "image").map_err(msg)?;
        self.put(image)
    }

    fn read(&mut self, path: String) -> ImageResult {
        let image = Image::read(&self.files, &self.reads, &path).map_err(msg)?;
        self.put(image)
    }

    fn list_images(&mut self, dir: String) -> Result<Vec<String>, String> {
        Image::list(&self.files, &self.reads, &dir).map_err(msg)
    }

    fn blank(&mut self, width: u32, height: u32, rgba: (u8, u8, u8, u8)) -> ImageResult {
        let image = Image::blank(width, height, [rgba.0, rgba.1, rgba.2, rgba.3]).map_err(msg)?;
        self.put(image)
    }

    fn contact_sheet(
        &mut self,
        images: Vec<Resource<Image>>,
        columns: u32,
        cell_width: u32,
        cell_height: u32,
        gap: u32,
    ) -> ImageResult {
        let images = images.iter().map(|h| self.get(h)).collect::<Result<Vec<_>, _>>()?;
        let sheet = Image::contact_sheet(&images, columns, cell_width, cell_height, gap).map_err(msg)?;
        self.put(sheet)
    }

    fn name(&mut self, this: Resource<Image>) -> String {
        self.get(&this).map(|i| i.name().to_string()).unwrap_or_default()
    }

    fn with_name(&mut self, this: Resource<Image>, name: String) -> ImageResult {
        self.derive_graphic(&this, |i| Ok(i.with_name(&name)))
    }

    fn width(&mut self, this: Resource<Image>) -> u32 {
        self.get(&this).map_or(0, |i| i.width())
    }

    fn height(&mut self, this: Resource<Image>) -> u32 {
        self.get(&this).map_or(0, |i| i.height())
    }

    fn resize(&mut self, this: Resource<Image>, width: u32, height: u32) -> ImageResult {
        self.derive_graphic(&this, |i| i.resize(width, height))
    }

    fn thumbnail(&mut self, this: Resource<Image>, max_width: u32, max_height: u32) -> ImageResult {
        self.derive_graphic(&this, |i| i.thumbnail(max_width, max_height))
    }

    fn crop(&mut self, this: Resource<Image>, x: u32, y: u32, width: u32, height: u32) -> ImageResult {
        self.derive_graphic(&this, |i| i.crop(x, y, width, height))
    }

    fn rotate(&mut self, this: Resource<Image>, degrees: i32) -> ImageResult {
        self.derive_graphic(&this, |i| i.rotate(i64::from(degrees)))
    }

    fn flip(&mut self, this: Resource<Image>, horizontal: bool) -> ImageResult {
        self.derive_graphic(&this, |i| Ok(i.flip(horizontal)))
    }

    fn grayscale(&mut self, this: Resource<Image>) -> ImageResult {
        self.derive_graphic(&this, |i| Ok(i.grayscale()))
    }

    fn blur(&mut self, this: Resource<Image>, sigma: f64) -> ImageResult {
        self.derive_graphic(&this, |i| i.blur(sigma))
    }

    fn brighten(&mut self, this: Resource<Image>, amount: i32) -> ImageResult {
        self.derive_graphic(&this, |i| i.brighten(i64::from(amount)))
    }

    fn contrast(&mut self, this: Resource<Image>, percent: f64) -> ImageResult {
        self.derive_graphic(&this, |i| i.contrast(percent))
    }

    fn overlay(&mut self, this: Resource<Image>, top: Resource<Image>, x: i64, y: i64) -> ImageResult {
        let top = self.get(&top)?;
        self.derive_graphic(&this, |i| Ok(i.overlay(&top, x, y)))
    }

    fn encode(&mut self, this: Resource<Image>, format: String) -> Result<Vec<u8>, String> {
        let bytes = self.get(&this)?.encode(&format).map_err(msg)?;
        self.bytes_out(bytes, "the encoded image")
    }

    fn drop(&mut self, rep: Resource<Image>) -> wasmtime::Result<()> {
        self.take(rep).map_err(wasmtime::Error::msg)?;
        Ok(())
    }
}
