//! SVG documents, charts, rasterisation and images: host-owned values that
//! nodes build and transform through host functions (components through the
//! WIT `svg` and `image` resources, scripts through the Rhai `svg` and `image`
//! types).
//!
//! Every value is immutable and sits behind an `Arc`: an operation returns a
//! new value, and passing one to another node copies nothing. Everything a
//! guest hands in is checked here (finite numbers, attribute names and
//! values, pixel budgets), so no guest input reaches `svg`, `resvg` or
//! `image` unchecked.

pub mod chart;
pub mod doc;
pub mod picture;
pub mod raster;

use std::fmt;

pub use chart::{ChartKind, ChartSpec};
pub use doc::Svg;
pub use picture::Image;

/// The widest or tallest image the host makes (SECURITY.md: images ≤ 8192 × 8192).
pub const MAX_SIDE: u32 = 8192;
/// The most bytes one decoded image may take (SECURITY.md: ≤ 256 MiB decoded).
pub const MAX_IMAGE_BYTES: u64 = 256 << 20;

/// Why an SVG or image operation failed: a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsError {
    /// What went wrong, and what to do about it where that can be said.
    pub message: String,
}

impl GraphicsError {
    /// A graphics error with this message.
    pub fn new(message: impl Into<String>) -> GraphicsError {
        GraphicsError { message: message.into() }
    }
}

impl fmt::Display for GraphicsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GraphicsError {}

impl From<crate::table::TableError> for GraphicsError {
    fn from(e: crate::table::TableError) -> GraphicsError {
        GraphicsError { message: e.message }
    }
}

impl From<GraphicsError> for crate::table::TableError {
    fn from(e: GraphicsError) -> crate::table::TableError {
        crate::table::TableError::new(e.message)
    }
}

/// Refuse an image of `width` × `height` RGBA pixels past the caps, before
/// anything is allocated for it.
pub(crate) fn check_pixels(width: u64, height: u64, what: &str) -> Result<(), GraphicsError> {
    let max = u64::from(MAX_SIDE);
    if width == 0 || height == 0 {
        return Err(GraphicsError::new(format!("{what}: an image of {width} × {height} pixels is empty")));
    }
    if width > max || height > max {
        return Err(GraphicsError::new(format!(
            "{what}: {width} × {height} pixels is larger than the {max} × {max} an image may be"
        )));
    }
    let bytes = width.saturating_mul(height).saturating_mul(4);
    if bytes > MAX_IMAGE_BYTES {
        return Err(GraphicsError::new(format!(
            "{what}: {width} × {height} pixels would take {}, more than the {} an image may take",
            crate::human_bytes(bytes),
            crate::human_bytes(MAX_IMAGE_BYTES)
        )));
    }
    Ok(())
}

/// A number as an error message shows it: huge ones in scientific notation,
/// not as three hundred digits.
pub(crate) fn shown(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e12 { format!("{v:e}") } else { v.to_string() }
}

/// A number from a guest, refused when it is NaN or infinite.
pub(crate) fn finite(what: &str, v: f64) -> Result<f64, GraphicsError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(GraphicsError::new(format!("{what} must be a finite number, not {v}")))
    }
}

/// Run library code on guest-controlled input; a panic in it becomes an error.
pub(crate) fn caught<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, GraphicsError> {
    crate::caught(what, f).map_err(GraphicsError::new)
}
