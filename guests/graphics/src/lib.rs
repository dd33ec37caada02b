//! Test nodes: every SVG, chart and image operation from a component, and
//! hostile requests the host must refuse.

use weavelet::{ChartKind, ChartSpec, GraphicsError, Image, Svg, Table, TableError};
use weavelet_sdk as weavelet;

type Res<T> = Result<T, GraphicsError>;

/// Every element kind, a group, a nested placement and a view box.
#[weavelet::node]
fn g_shapes() -> Res<Svg> {
    let inner = Svg::new(50.0, 50.0)?.circle(25.0, 25.0, 20.0, &[("fill", "#e15759")])?;
    Svg::new(200.0, 120.0)?
        .rect(0.0, 0.0, 200.0, 120.0, &[("fill", "white")])?
        .rect(10.0, 10.0, 40.0, 30.0, &[("fill", "#4e79a7"), ("class", "box")])?
        .circle(80.0, 25.0, 15.0, &[("fill", "#f28e2b")])?
        .ellipse(130.0, 25.0, 20.0, 10.0, &[("fill", "#76b7b2")])?
        .line(10.0, 60.0, 190.0, 60.0, &[("stroke", "black"), ("stroke-width", "2")])?
        .polyline(&[(10.0, 100.0), (50.0, 70.0), (90.0, 100.0)], &[("fill", "none"), ("stroke", "#59a14f")])?
        .path("M 100 100 L 120 70 L 140 100 Z", &[("fill", "#edc948")])?
        .text(150.0, 110.0, "Hi <there>", &[("font-size", "12")])?
        .group(&inner, &[("opacity", "0.5")])?
        .place(&inner, 150.0, 60.0, 0.5)?
        .view_box(0.0, 0.0, 200.0, 120.0)
}

/// The shapes as SVG text, with their size.
#[weavelet::node]
fn g_text(g_shapes: Svg) -> Res<String> {
    Ok(format!("{}x{}\n{}", g_shapes.width(), g_shapes.height(), g_shapes.to_text()?))
}

/// The shapes rendered at twice their size.
#[weavelet::node]
fn g_render(g_shapes: Svg) -> Res<Image> {
    g_shapes.render(2.0)
}

/// A table for the charts.
#[weavelet::node]
fn g_data(path: String) -> Result<Table, TableError> {
    Table::read(&path)
}

/// Every chart kind, a card, all on one dashboard.
#[weavelet::node]
fn g_charts(g_data: Table) -> Res<Svg> {
    let spec = |kind, x: &str, y: &[&str], title: &str| weavelet::chart_spec(kind, x, y, title);
    let bar = Svg::chart(&g_data, &spec(ChartKind::Bar, "region", &["revenue", "cost"], "Bars"))?;
    let hbar = Svg::chart(&g_data, &spec(ChartKind::HorizontalBar, "region", &["revenue"], "Horizontal"))?;
    let line = Svg::chart(&g_data, &spec(ChartKind::Line, "region", &["revenue", "cost"], "Lines"))?;
    let scatter = Svg::chart(&g_data, &spec(ChartKind::Scatter, "cost", &["revenue"], "Scatter"))?;
    let histogram = Svg::chart(
        &g_data,
        &ChartSpec { bins: 4, ..spec(ChartKind::Histogram, "revenue", &[], "Histogram") },
    )?;
    let metric = Svg::chart(&g_data, &spec(ChartKind::Metric, "revenue", &["region"], "First revenue"))?;
    let card = Svg::card("Regions", "4", "in the test table")?;
    Svg::dashboard("All charts", &[&bar, &hbar, &line, &scatter, &histogram, &metric, &card], 3)
}

/// Every image operation on the images of a folder; returns the results, named.
#[weavelet::node]
fn g_images(dir: String) -> Res<Vec<Image>> {
    let paths = Image::list(&dir)?;
    let first = Image::read(paths.first().ok_or_else(|| GraphicsError("no images".into()))?)?;
    let decoded = Image::decode(&first.encode("png")?)?;
    let blank = Image::blank(20, 10, [255, 0, 0, 128])?;
    let all: Vec<Image> = paths.iter().map(|p| Image::read(p)).collect::<Res<_>>()?;
    let refs: Vec<&Image> = all.iter().collect();
    Ok(vec![
        first.resize(30, 20)?.with_name("resize")?,
        first.thumbnail(16, 16)?.with_name("thumbnail")?,
        first.crop(1, 2, 10, 5)?.with_name("crop")?,
        first.rotate(90)?.with_name("rotate")?,
        first.flip(true)?.with_name("flip")?,
        first.grayscale()?.with_name("grayscale")?,
        first.blur(2.0)?.with_name("blur")?,
        first.brighten(40)?.with_name("brighten")?,
        first.contrast(30.0)?.with_name("contrast")?,
        first.overlay(&blank, 2, 2)?.with_name("overlay")?,
        Image::decode(&decoded.encode("jpeg")?)?.with_name("jpeg")?,
        Image::decode(&decoded.encode("webp")?)?.with_name("webp")?,
        Image::contact_sheet(&refs, 2, 32, 32, 4)?.with_name("sheet")?,
        blank.with_name(&format!("blank-{}", first.name()))?,
    ])
}

/// Parse SVG text a user gives (hostile tests pass external references).
#[weavelet::node]
fn g_parse(text: String) -> Res<Svg> {
    Svg::parse(&text)
}

/// Parse and render SVG text.
#[weavelet::node]
fn g_parse_render(text: String) -> Res<Image> {
    Svg::parse(&text)?.render(1.0)
}

/// Read an SVG file.
#[weavelet::node]
fn g_read_svg(path: String) -> Res<Svg> {
    Svg::read(&path)
}

/// Decode image bytes (hostile tests pass decompression bombs).
#[weavelet::node]
fn g_decode(bytes: weavelet::Bytes) -> Res<Image> {
    Image::decode(&bytes.0)
}

/// Ask the host for a 65535 × 65535 image.
#[weavelet::node]
fn g_huge_resize() -> Res<Image> {
    Image::blank(4, 4, [0, 0, 0, 255])?.resize(65535, 65535)
}

/// Put an external reference into an element the node builds.
#[weavelet::node]
fn g_outside_href() -> Res<Svg> {
    Svg::new(10.0, 10.0)?.rect(0.0, 0.0, 10.0, 10.0, &[("href", "/etc/passwd")])
}

/// Keep making 4096 × 4096 canvases (64 MiB each) and hold on to them.
#[weavelet::node]
fn g_hoard() -> Res<u32> {
    let mut kept = Vec::new();
    for _ in 0..64 {
        kept.push(Image::blank(4096, 4096, [0, 0, 0, 255])?);
    }
    Ok(kept.len() as u32)
}

weavelet::export!(
    g_hoard,
    g_shapes,
    g_text,
    g_render,
    g_data,
    g_charts,
    g_images,
    g_parse,
    g_parse_render,
    g_read_svg,
    g_decode,
    g_huge_resize,
    g_outside_href
);
