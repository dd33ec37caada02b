//! `Svg::parse_bytes` (usvg under Weavelet's rules: no gzip, no external
//! references, embedded rasters checked before decoding), the document's text
//! form, and rasterising it with `graphics::raster::render` at a scale that
//! keeps the picture at most 256 pixels on its longer side.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use weavelet::Svg;
use weavelet::graphics::raster::render;

/// The longer side of the rendered picture, at most.
const SIDE: f64 = 256.0;

fuzz_target!(init: common::init(), |data: &[u8]| {
    let Ok(svg) = Svg::parse_bytes(data) else { return };
    let _ = (svg.element_count(), svg.byte_size());
    let _ = svg.to_text();
    let longer = svg.width().max(svg.height());
    if !(longer.is_finite() && longer > 0.0) {
        return;
    }
    // `render` accepts scales in (0, 64]; documents smaller than SIDE are drawn at 1 ×.
    let scale = (SIDE / longer).min(1.0);
    if scale > 0.0 {
        let _ = render(&svg, scale);
    }
});
