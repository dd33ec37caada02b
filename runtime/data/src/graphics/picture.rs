//! `Image`: an immutable raster image held by the host (`image` crate).
//!
//! Decoding runs under `image::Limits` with width and height caps (a
//! 100 000 × 100 000 PNG header is refused before a pixel is allocated), and
//! every operation that makes pixels checks the size of its result first
//! (SECURITY.md items 31–32).

use std::fmt;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbaImage, imageops};

use super::{GraphicsError, MAX_IMAGE_BYTES, MAX_SIDE, check_pixels, finite};
use crate::files::{ReadGrants, ReadLog};

/// Extensions of the image files [`Image::list`] finds and [`Image::read`] decodes.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "webp", "gif"];
/// The largest image file read or bytes decoded.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// An immutable image held by the host, with a name (its file's stem when it
/// was read) that folder outputs use. Cloning copies a pointer.
#[derive(Clone)]
pub struct Image(Arc<Inner>);

struct Inner {
    pixels: DynamicImage,
    name: String,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}: {} × {})", self.0.name, self.width(), self.height())
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<image {}: {} × {}>", self.0.name, self.width(), self.height())
    }
}

impl PartialEq for Image {
    fn eq(&self, other: &Image) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || (self.0.name == other.0.name && self.0.pixels == other.0.pixels)
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    limits
}

/// A name safe to use as a file name: letters, digits, `-`, `_` and `.`.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .take(100)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() { "image".to_string() } else { cleaned.to_string() }
}

impl Image {
    pub(crate) fn from_dynamic(pixels: DynamicImage, name: &str) -> Image {
        Image(Arc::new(Inner { pixels, name: safe_name(name) }))
    }

    fn derive(&self, pixels: DynamicImage) -> Image {
        Image(Arc::new(Inner { pixels, name: self.0.name.clone() }))
    }

    /// Decode PNG, JPEG, WebP or GIF bytes (the first frame of an animation).
    pub fn decode(bytes: &[u8], name: &str) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.decode");
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(GraphicsError::new(format!(
                "{name}: {} of image data is more than the {} allowed",
                crate::human_bytes(bytes.len() as u64),
                crate::human_bytes(MAX_FILE_BYTES)
            )));
        }
        let reader = || {
            ImageReader::new(Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| GraphicsError::new(format!("{name}: cannot read the image: {e}")))
        };
        let probe = reader()?;
        match probe.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif) => {}
            Some(other) => {
                return Err(GraphicsError::new(format!(
                    "{name}: {other:?} images are not decoded; give PNG, JPEG, WebP or GIF"
                )));
            }
            None => return Err(GraphicsError::new(format!("{name}: not a PNG, JPEG, WebP or GIF image"))),
        }
        // The header alone: a decompression bomb is refused here, before any pixel exists.
        let (w, h) = probe.into_dimensions().map_err(|e| GraphicsError::new(format!("{name}: {e}")))?;
        check_pixels(u64::from(w), u64::from(h), name)?;
        let mut decoder = reader()?;
        decoder.limits(limits());
        let pixels = super::caught("the image decoder", || decoder.decode())?
            .map_err(|e| GraphicsError::new(format!("{name}: cannot decode the image: {e}")))?;
        Ok(Image::from_dynamic(eight_bit(pixels), name))
    }

    /// Read and decode an image file under the node's read grants. The
    /// image's name is the file's stem.
    pub fn read(grants: &ReadGrants, log: &ReadLog, path: &str) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.read");
        let (file, real) = grants.open_file(path, log)?;
        let size = file.metadata().map_or(0, |m| m.len());
        let bytes = crate::files::read_at_most(file, MAX_FILE_BYTES)
            .map_err(|e| GraphicsError::new(format!("reading `{path}`: {e}")))?
            .ok_or_else(|| {
                GraphicsError::new(format!(
                    "`{path}` is {}, more than the {} an image file may be",
                    crate::human_bytes(size.max(MAX_FILE_BYTES + 1)),
                    crate::human_bytes(MAX_FILE_BYTES)
                ))
            })?;
        let stem = real.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Image::decode(&bytes, &stem).map_err(|e| GraphicsError::new(format!("`{path}`: {e}")))
    }

    /// The image files (by extension) directly in `dir`, a granted directory,
    /// as paths to give [`Image::read`], sorted by name.
    pub fn list(grants: &ReadGrants, log: &ReadLog, dir: &str) -> Result<Vec<String>, GraphicsError> {
        let _op = crate::activity::enter("image.list");
        let (folder, _) = grants.open_dir(dir, log)?;
        let entries = folder.entries().map_err(|e| GraphicsError::new(format!("listing `{dir}`: {e}")))?;
        let mut names = Vec::new();
        // Every entry counts towards the bound, images or not: listing is the host's work.
        for (seen, entry) in entries.enumerate() {
            if seen >= 1_000_000 {
                return Err(GraphicsError::new(format!("`{dir}` holds more than 1 000 000 entries")));
            }
            let entry = entry.map_err(|e| GraphicsError::new(format!("listing `{dir}`: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_image = Path::new(&name)
                .extension()
                .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
            if is_image && entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(name);
            }
            if names.len() > 100_000 {
                return Err(GraphicsError::new(format!("`{dir}` holds more than 100 000 images")));
            }
        }
        names.sort();
        let dir = dir.trim_end_matches('/');
        Ok(names.into_iter().map(|n| format!("{dir}/{n}")).collect())
    }

    /// A `width` × `height` image of one colour (RGBA): a canvas.
    pub fn blank(width: u32, height: u32, rgba: [u8; 4]) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.blank");
        check_pixels(u64::from(width), u64::from(height), "blank")?;
        Ok(Image::from_dynamic(
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(width, height, image::Rgba(rgba))),
            "canvas",
        ))
    }

    /// The images side by side in a grid of `columns`, each fitted into a
    /// `cell_width` × `cell_height` cell and centred, `gap` pixels apart, on white.
    pub fn contact_sheet(
        images: &[Image],
        columns: u32,
        cell_width: u32,
        cell_height: u32,
        gap: u32,
    ) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.contact_sheet");
        if images.is_empty() {
            return Err(GraphicsError::new("a contact sheet needs at least one image"));
        }
        if columns == 0 || cell_width == 0 || cell_height == 0 {
            return Err(GraphicsError::new("a contact sheet needs at least one column and non-empty cells"));
        }
        let columns = columns.min(images.len() as u32);
        let rows = (images.len() as u64).div_ceil(u64::from(columns));
        let width = u64::from(columns) * u64::from(cell_width) + u64::from(columns + 1) * u64::from(gap);
        let height = rows * u64::from(cell_height) + (rows + 1) * u64::from(gap);
        check_pixels(width, height, "contact sheet")?;
        let mut sheet = RgbaImage::from_pixel(width as u32, height as u32, image::Rgba([255, 255, 255, 255]));
        for (i, image) in images.iter().enumerate() {
            let (col, row) = (i as u64 % u64::from(columns), i as u64 / u64::from(columns));
            let cell = image.thumbnail(cell_width, cell_height)?;
            let x =
                u64::from(gap) + col * u64::from(cell_width + gap) + u64::from(cell_width - cell.width()) / 2;
            let y = u64::from(gap)
                + row * u64::from(cell_height + gap)
                + u64::from(cell_height - cell.height()) / 2;
            imageops::overlay(&mut sheet, &cell.0.pixels.to_rgba8(), x as i64, y as i64);
        }
        Ok(Image::from_dynamic(DynamicImage::ImageRgba8(sheet), "contact-sheet"))
    }

    /// The name folder outputs give this image's file.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The same pixels under another name (letters, digits, `-`, `_`, `.`; others become `_`).
    pub fn with_name(&self, name: &str) -> Image {
        Image(Arc::new(Inner { pixels: self.0.pixels.clone(), name: safe_name(name) }))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.0.pixels.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.0.pixels.height()
    }

    /// Bytes the pixels occupy.
    pub fn byte_size(&self) -> usize {
        self.0.pixels.as_bytes().len()
    }

    /// The pixels.
    pub fn pixels(&self) -> &DynamicImage {
        &self.0.pixels
    }

    /// Resized to exactly `width` × `height` (Lanczos filter).
    pub fn resize(&self, width: u32, height: u32) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.resize");
        check_pixels(u64::from(width), u64::from(height), "resize")?;
        // The resampler keeps a float copy of (source width × new height) pixels, 16 bytes each.
        let scratch = u64::from(self.width()) * u64::from(height) * 16;
        if scratch > 2 * MAX_IMAGE_BYTES {
            return Err(GraphicsError::new(format!(
                "resize: {} × {} to {width} × {height} would need {} of scratch memory; resize in two steps",
                self.width(),
                self.height(),
                crate::human_bytes(scratch)
            )));
        }
        Ok(self.derive(self.0.pixels.resize_exact(width, height, imageops::FilterType::Lanczos3)))
    }

    /// Scaled down to fit within `max_width` × `max_height`, keeping its
    /// proportions (never enlarged).
    pub fn thumbnail(&self, max_width: u32, max_height: u32) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.thumbnail");
        check_pixels(u64::from(max_width), u64::from(max_height), "thumbnail")?;
        let (w, h) = (self.width(), self.height());
        if w <= max_width && h <= max_height {
            return Ok(self.clone());
        }
        let ratio = (f64::from(max_width) / f64::from(w)).min(f64::from(max_height) / f64::from(h));
        let nw = ((f64::from(w) * ratio).round() as u32).clamp(1, max_width);
        let nh = ((f64::from(h) * ratio).round() as u32).clamp(1, max_height);
        // Area averaging (each source pixel lands in one target pixel): fast and smooth for shrinking.
        Ok(self.derive(self.0.pixels.thumbnail_exact(nw, nh)))
    }

    /// The `width` × `height` rectangle at (`x`, `y`); it must lie inside the image.
    pub fn crop(&self, x: u32, y: u32, width: u32, height: u32) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.crop");
        let inside = u64::from(x) + u64::from(width) <= u64::from(self.width())
            && u64::from(y) + u64::from(height) <= u64::from(self.height());
        if width == 0 || height == 0 || !inside {
            return Err(GraphicsError::new(format!(
                "crop: {width} × {height} at ({x}, {y}) is not inside the {} × {} image",
                self.width(),
                self.height()
            )));
        }
        Ok(self.derive(self.0.pixels.crop_imm(x, y, width, height)))
    }

    /// Rotated clockwise by 90, 180 or 270 degrees (-90 is 270).
    pub fn rotate(&self, degrees: i64) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.rotate");
        Ok(self.derive(match degrees.rem_euclid(360) {
            0 => self.0.pixels.clone(),
            90 => self.0.pixels.rotate90(),
            180 => self.0.pixels.rotate180(),
            270 => self.0.pixels.rotate270(),
            _ => return Err(GraphicsError::new(format!("rotate: {degrees}° is not a multiple of 90"))),
        }))
    }

    /// Mirrored left to right (`horizontal`) or top to bottom.
    pub fn flip(&self, horizontal: bool) -> Image {
        self.derive(if horizontal { self.0.pixels.fliph() } else { self.0.pixels.flipv() })
    }

    /// In shades of grey.
    pub fn grayscale(&self) -> Image {
        self.derive(self.0.pixels.grayscale())
    }

    /// Blurred with a Gaussian of `sigma` pixels (0 < sigma ≤ 250; a fast
    /// approximation whose cost does not grow with sigma).
    pub fn blur(&self, sigma: f64) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.blur");
        let sigma = finite("sigma", sigma)?;
        if sigma <= 0.0 || sigma > 250.0 {
            return Err(GraphicsError::new(format!(
                "blur: sigma must be above 0 and at most 250, not {sigma}"
            )));
        }
        Ok(self.derive(self.0.pixels.fast_blur(sigma as f32)))
    }

    /// Brighter (positive) or darker (negative) by `amount` (-255 to 255).
    pub fn brighten(&self, amount: i64) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.brighten");
        if !(-255..=255).contains(&amount) {
            return Err(GraphicsError::new(format!("brighten: {amount} is not between -255 and 255")));
        }
        Ok(self.derive(self.0.pixels.brighten(amount as i32)))
    }

    /// More (positive) or less (negative) contrast, in percent (-100 to 100).
    pub fn contrast(&self, percent: f64) -> Result<Image, GraphicsError> {
        let _op = crate::activity::enter("image.contrast");
        let percent = finite("contrast", percent)?;
        if !(-100.0..=100.0).contains(&percent) {
            return Err(GraphicsError::new(format!("contrast: {percent} is not between -100 and 100")));
        }
        Ok(self.derive(self.0.pixels.adjust_contrast(percent as f32)))
    }

    /// `top` drawn over this image with its corner at (`x`, `y`) (alpha blended;
    /// parts outside are cut off).
    pub fn overlay(&self, top: &Image, x: i64, y: i64) -> Image {
        let _op = crate::activity::enter("image.overlay");
        let mut bottom = self.0.pixels.to_rgba8();
        imageops::overlay(&mut bottom, &top.0.pixels.to_rgba8(), x, y);
        self.derive(DynamicImage::ImageRgba8(bottom))
    }

    /// Encoded as `png`, `jpeg` (quality 90; transparency flattened) or `webp` (lossless).
    pub fn encode(&self, format: &str) -> Result<Vec<u8>, GraphicsError> {
        let _op = crate::activity::enter("image.encode");
        let mut out = Cursor::new(Vec::new());
        let pixels = &self.0.pixels;
        let fail = |e: image::ImageError| GraphicsError::new(format!("encoding {format}: {e}"));
        match format.to_ascii_lowercase().as_str() {
            "png" => pixels.write_to(&mut out, ImageFormat::Png).map_err(fail)?,
            "jpeg" | "jpg" => {
                let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
                let flat = if pixels.color().has_alpha() || pixels.color().bytes_per_pixel() > 3 {
                    DynamicImage::ImageRgb8(flatten(pixels))
                } else if pixels.color().has_color() {
                    DynamicImage::ImageRgb8(pixels.to_rgb8())
                } else {
                    DynamicImage::ImageLuma8(pixels.to_luma8())
                };
                flat.write_with_encoder(encoder).map_err(fail)?;
            }
            "webp" => {
                let encoder = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
                let converted = if pixels.color().has_alpha() {
                    DynamicImage::ImageRgba8(pixels.to_rgba8())
                } else {
                    DynamicImage::ImageRgb8(pixels.to_rgb8())
                };
                converted.write_with_encoder(encoder).map_err(fail)?;
            }
            other => {
                return Err(GraphicsError::new(format!("cannot encode `{other}`: give png, jpeg or webp")));
            }
        }
        Ok(out.into_inner())
    }

    /// The format an output file's extension names, if it is an image format.
    pub fn format_of(path: &Path) -> Option<&'static str> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some("png"),
            "jpg" | "jpeg" => Some("jpeg"),
            "webp" => Some("webp"),
            _ => None,
        }
    }
}

/// 8 bits per channel: every size check counts 4 bytes per pixel, and
/// resampling a 16-bit image would double its cost.
fn eight_bit(pixels: DynamicImage) -> DynamicImage {
    use image::ColorType as C;
    match pixels.color() {
        C::L8 | C::La8 | C::Rgb8 | C::Rgba8 => pixels,
        C::L16 => DynamicImage::ImageLuma8(pixels.to_luma8()),
        C::La16 => DynamicImage::ImageLumaA8(pixels.to_luma_alpha8()),
        C::Rgb16 | C::Rgb32F => DynamicImage::ImageRgb8(pixels.to_rgb8()),
        _ => DynamicImage::ImageRgba8(pixels.to_rgba8()),
    }
}

/// RGB on a white background (for formats without transparency).
fn flatten(pixels: &DynamicImage) -> image::RgbImage {
    let rgba = pixels.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let mix = |c: u8| ((u32::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(width, height, image::Rgb([10, 20, 30])));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encodes");
        out.into_inner()
    }

    #[test]
    fn operations_keep_sizes_right() {
        let img = Image::decode(&png(40, 20), "x").expect("decodes");
        assert_eq!((img.width(), img.height()), (40, 20));
        let t = img.thumbnail(10, 10).expect("fits");
        assert_eq!((t.width(), t.height()), (10, 5));
        let r = img.rotate(90).expect("rotates");
        assert_eq!((r.width(), r.height()), (20, 40));
        assert!(img.crop(30, 0, 20, 5).is_err());
        assert!(img.resize(65535, 65535).is_err());
        for format in ["png", "jpeg", "webp"] {
            let bytes = img.grayscale().encode(format).expect("encodes");
            let back = Image::decode(&bytes, "y").expect("decodes its own output");
            assert_eq!((back.width(), back.height()), (40, 20), "{format}");
        }
    }
}
