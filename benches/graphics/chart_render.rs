//! Rendering a 1 000-bar chart: table → chart (SVG document) → SVG text →
//! PNG pixels → PNG file bytes, each step timed separately (medians).
//!
//! Usage: cargo run -p weavelet-benches --features drivers --example chart_render [ROUNDS] [BARS]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use weavelet::graphics::{chart, raster};
use weavelet::polars::prelude::*;
use weavelet::{ChartKind, ChartSpec, Table};

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let bars: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let df = df!(
        "product" => (0..bars).map(|i| format!("product {i:04}")).collect::<Vec<_>>(),
        "revenue" => (0..bars).map(|i| 1000.0 + ((i * 7919) % 1000) as f64 * 3.5).collect::<Vec<_>>(),
    )
    .unwrap();
    let table = Table::from_frame(df);
    let spec =
        ChartSpec { width: 1600.0, height: 600.0, ..ChartSpec::new(ChartKind::Bar, "product", &["revenue"]) }
            .titled("Revenue of 1 000 products");
    let (mut build, mut text, mut render, mut encode) = (vec![], vec![], vec![], vec![]);
    let (mut svg_bytes, mut png_bytes, mut elements) = (0, 0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        let svg = chart::chart(&table, &spec).unwrap();
        build.push(t.elapsed());
        let t = Instant::now();
        let s = svg.to_text();
        text.push(t.elapsed());
        let t = Instant::now();
        let image = raster::render(&svg, 1.0).unwrap();
        render.push(t.elapsed());
        let t = Instant::now();
        let png = image.encode("png").unwrap();
        encode.push(t.elapsed());
        (svg_bytes, png_bytes, elements) = (s.len(), png.len(), svg.element_count());
    }
    println!("{bars}-bar chart, 1600 × 600, {elements} elements, {rounds} rounds (medians):");
    println!("  table → chart document   {:>9.2?}", median(build));
    println!("  document → SVG text      {:>9.2?}  ({svg_bytes} bytes)", median(text));
    println!("  SVG → pixels (resvg)     {:>9.2?}", median(render));
    println!("  pixels → PNG bytes       {:>9.2?}  ({png_bytes} bytes)", median(encode));
}
