//! SVG to pixels with resvg, under the rules of SECURITY.md items 33–34:
//! no external references (usvg's default resolver would read host files),
//! no gzip input, embedded rasters bounded before they are decoded, and the
//! output pixmap capped before it is allocated.
//!
//! Text is drawn with the DejaVu Sans fonts built into the binary; system
//! fonts are never loaded, so a chart renders the same on every machine.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, ImageHrefResolver, ImageKind, fontdb};

use super::{GraphicsError, Image, MAX_IMAGE_BYTES, Svg, check_pixels};

/// The font family every document's text falls back to.
pub const FONT_FAMILY: &str = "DejaVu Sans";
/// The most bytes of embedded (`data:`) rasters one document may carry.
pub const MAX_EMBEDDED_BYTES: usize = 32 << 20;

fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            for data in [
                dejavu::sans::regular(),
                dejavu::sans::bold(),
                dejavu::sans::oblique(),
                dejavu::sans::bold_oblique(),
                dejavu::sans_mono::regular(),
                dejavu::sans_mono::bold(),
            ] {
                db.load_font_data(data.to_vec());
            }
            db.set_sans_serif_family(FONT_FAMILY);
            db.set_serif_family(FONT_FAMILY);
            db.set_cursive_family(FONT_FAMILY);
            db.set_fantasy_family(FONT_FAMILY);
            db.set_monospace_family("DejaVu Sans Mono");
            Arc::new(db)
        })
        .clone()
}

/// Parse SVG bytes with the safe options. Refusals (an external reference, an
/// oversized embedded raster) fail the parse instead of being skipped
/// silently, so a node learns why its picture is missing a part.
pub(crate) fn parse(data: &[u8]) -> Result<usvg::Tree, GraphicsError> {
    if data.starts_with(&[0x1f, 0x8b]) {
        return Err(GraphicsError::new(
            "compressed SVG (gzip, .svgz) is refused: it would be decompressed without a size limit; \
             give the uncompressed SVG text",
        ));
    }
    let text = std::str::from_utf8(data).map_err(|_| GraphicsError::new("the SVG is not UTF-8 text"))?;
    let refused: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let embedded = Arc::new(AtomicU64::new(0));
    let refuse = {
        let refused = refused.clone();
        move |why: String| {
            if let Ok(mut slot) = refused.lock() {
                slot.get_or_insert(why);
            }
        }
    };
    let refuse_data = refuse.clone();
    let resolver =
        ImageHrefResolver {
            resolve_data: Box::new(move |mime: &str, data: Arc<Vec<u8>>, _: &usvg::Options| {
                match embedded_raster(mime, &data, &embedded) {
                    Ok(kind) => Some(kind),
                    Err(why) => {
                        refuse_data(why);
                        None
                    }
                }
            }),
            resolve_string: Box::new(move |href: &str, _: &usvg::Options| {
                let shown: String = href.chars().take(80).collect();
                refuse(format!(
                    "the SVG refers to `{shown}` outside the document; external references are refused \
                 (embed the picture as a data: URL or place an image in the pipeline instead)"
                ));
                None
            }),
        };
    let options = usvg::Options {
        resources_dir: None,
        font_family: FONT_FAMILY.to_string(),
        fontdb: fonts(),
        image_href_resolver: resolver,
        ..usvg::Options::default()
    };
    let tree = super::caught("the SVG parser", || usvg::Tree::from_str(text, &options))?
        .map_err(|e| GraphicsError::new(format!("the SVG cannot be read: {e}")))?;
    if let Some(why) = refused.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(GraphicsError::new(why));
    }
    Ok(tree)
}

/// Check an embedded raster's header before anything decodes it: a known
/// format, within the pixel caps, and within the document's embedded budget.
fn embedded_raster(mime: &str, data: &Arc<Vec<u8>>, used: &AtomicU64) -> Result<ImageKind, String> {
    let total = used.fetch_add(data.len() as u64, Ordering::Relaxed) + data.len() as u64;
    if total > MAX_EMBEDDED_BYTES as u64 {
        return Err(format!(
            "the SVG embeds more than {} of pictures",
            crate::human_bytes(MAX_EMBEDDED_BYTES as u64)
        ));
    }
    let reader = image::ImageReader::new(Cursor::new(data.as_slice()))
        .with_guessed_format()
        .map_err(|e| format!("an embedded picture ({mime}) cannot be read: {e}"))?;
    let format = reader.format();
    let (w, h) =
        reader.into_dimensions().map_err(|e| format!("an embedded picture ({mime}) cannot be read: {e}"))?;
    check_pixels(u64::from(w), u64::from(h), "an embedded picture").map_err(|e| e.message)?;
    match format {
        Some(image::ImageFormat::Png) => Ok(ImageKind::PNG(data.clone())),
        Some(image::ImageFormat::Jpeg) => Ok(ImageKind::JPEG(data.clone())),
        Some(image::ImageFormat::Gif) => Ok(ImageKind::GIF(data.clone())),
        Some(image::ImageFormat::WebP) => Ok(ImageKind::WEBP(data.clone())),
        _ => Err(format!("an embedded picture ({mime}) is not PNG, JPEG, GIF or WebP; it is refused")),
    }
}

/// Draw `svg` at `scale` times its size (2.0 for a sharp picture on a
/// high-density screen) into an image.
pub fn render(svg: &Svg, scale: f64) -> Result<Image, GraphicsError> {
    let _op = crate::activity::enter("svg.render");
    let scale = super::finite("scale", scale)?;
    if scale <= 0.0 || scale > 64.0 {
        return Err(GraphicsError::new(format!(
            "scale must be above 0 and at most 64, not {}",
            super::shown(scale)
        )));
    }
    render_text(&svg.to_text(), scale)
}

/// The most pixels one picture's shapes may cover, summed over its shapes
/// (about 1–3 s of drawing): the renderer cannot be stopped once it runs, so
/// a picture that would take longer is refused before it starts.
pub const MAX_PIXEL_WORK: f64 = 2e9;

/// Draw SVG text at `scale` (see [`render`]).
pub fn render_text(text: &str, scale: f64) -> Result<Image, GraphicsError> {
    let tree = parse(text.as_bytes())?;
    let size = tree.size();
    let width = (f64::from(size.width()) * scale).ceil();
    let height = (f64::from(size.height()) * scale).ceil();
    // Past u32 the cast saturates, and check_pixels refuses it.
    check_pixels(width as u64, height as u64, "rendering the SVG")?;
    let work = pixel_work(tree.root(), width * height, scale);
    if work > MAX_PIXEL_WORK {
        return Err(GraphicsError::new(format!(
            "the picture's shapes, masks and filters cover {work:.1e} pixels in all, more than the \
             {MAX_PIXEL_WORK:.0e} one picture may take to draw; draw fewer or smaller shapes, use smaller filter \
             radii, or render at a smaller scale"
        )));
    }
    let (width, height) = (width as u32, height as u32);
    debug_assert!(u64::from(width) * u64::from(height) * 4 <= MAX_IMAGE_BYTES);
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| GraphicsError::new(format!("cannot make a {width} × {height} picture")))?;
    let transform = tiny_skia::Transform::from_scale(scale as f32, scale as f32);
    super::caught("the SVG renderer", || resvg::render(&tree, transform, &mut pixmap.as_mut()))?;
    let rgba = image::RgbaImage::from_raw(width, height, pixmap.take_demultiplied())
        .ok_or_else(|| GraphicsError::new("the rendered picture has the wrong size"))?;
    Ok(Image::from_dynamic(image::DynamicImage::ImageRgba8(rgba), "render"))
}

/// Roughly the pixels drawing `group` touches: each shape's box (stroke
/// included), each pattern's tile, each separately composited group's layer
/// twice (drawn, then blended), each mask and clip path drawn again over the
/// group's layer, and each filter primitive over the layer times what one of
/// its pixels costs. Every area is at most the whole canvas.
fn pixel_work(group: &usvg::Group, canvas: f64, scale: f64) -> f64 {
    let area = |r: resvg::tiny_skia::Rect| {
        (f64::from(r.width()) * f64::from(r.height()) * scale * scale).min(canvas)
    };
    group
        .children()
        .iter()
        .map(|node| match node {
            usvg::Node::Group(g) => {
                let bounds = g.abs_layer_bounding_box().to_rect();
                let layer = area(bounds);
                let mut work = if g.should_isolate() { 2.0 * layer } else { 0.0 };
                if let Some(mask) = g.mask() {
                    work += layer + pixel_work(mask.root(), canvas, scale);
                    if let Some(inner) = mask.mask() {
                        work += layer + pixel_work(inner.root(), canvas, scale);
                    }
                }
                if let Some(clip) = g.clip_path() {
                    work += layer + pixel_work(clip.root(), canvas, scale);
                }
                let (sx, sy) = g.abs_transform().get_scale();
                let pixels = |v: f32, s: f32| f64::from(v) * f64::from(s) * scale;
                // The layer's size in pixels: no filter window reaches past it.
                let (w, h) = (pixels(bounds.width(), 1.0), pixels(bounds.height(), 1.0));
                for filter in g.filters() {
                    for primitive in filter.primitives() {
                        work += layer
                            * primitive_cost(primitive.kind(), |rx, ry| {
                                let wx = (2.0 * pixels(rx, sx) + 1.0).min(2.0 * w + 1.0);
                                let wy = (2.0 * pixels(ry, sy) + 1.0).min(2.0 * h + 1.0);
                                wx * wy
                            });
                        if let usvg::filter::Kind::Image(image) = primitive.kind() {
                            work += pixel_work(image.root(), canvas, scale);
                        }
                    }
                }
                work + pixel_work(g, canvas, scale)
            }
            usvg::Node::Path(path) => {
                let patterns = [path.fill().map(|f| f.paint()), path.stroke().map(|s| s.paint())];
                let tiles: f64 = patterns
                    .into_iter()
                    .flatten()
                    .map(|paint| match paint {
                        usvg::Paint::Pattern(pattern) => pixel_work(pattern.root(), canvas, scale),
                        _ => 0.0,
                    })
                    .sum();
                area(node.abs_stroke_bounding_box()) + 1.0 + tiles
            }
            other => area(other.abs_stroke_bounding_box()) + 1.0,
        })
        .sum()
}

/// What one pixel of a filter primitive costs resvg, in pixels drawn:
/// a morphology reads its whole window (`window(rx, ry)`, in pixels), a
/// convolution its matrix, turbulence each octave; blurs take a few passes.
fn primitive_cost(kind: &usvg::filter::Kind, window: impl Fn(f32, f32) -> f64) -> f64 {
    use usvg::filter::Kind;
    match kind {
        Kind::Morphology(m) => window(m.radius_x().get(), m.radius_y().get()),
        Kind::ConvolveMatrix(c) => f64::from(c.matrix().columns()) * f64::from(c.matrix().rows()),
        Kind::Turbulence(t) => 4.0 * f64::from(t.num_octaves().max(1)),
        Kind::GaussianBlur(_) | Kind::DropShadow(_) => 6.0,
        Kind::DiffuseLighting(_) | Kind::SpecularLighting(_) => 9.0,
        _ => 1.0,
    }
}
