//! Write COUNT photo-like JPEGs of WIDTH × HEIGHT (gradients, shapes and
//! noise, so they decode like photographs) into DIR, for the thumbnail
//! benchmark.
//!
//! Usage: cargo run -p weavelet-benches --features drivers --example generate_photos DIR [COUNT] [WIDTH] [HEIGHT]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use image::{Rgb, RgbImage};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir =
        std::path::PathBuf::from(args.next().expect("usage: generate_photos DIR [COUNT] [WIDTH] [HEIGHT]"));
    let count: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let width: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let height: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1500);
    std::fs::create_dir_all(&dir).unwrap();
    for n in 0..count {
        let mut seed = 0x9e37_79b9_u32.wrapping_mul(n + 1);
        let (cx, cy) = ((n * 97 % width) as f32, (n * 61 % height) as f32);
        let img = RgbImage::from_fn(width, height, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 24) as f32;
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let ring = if ((d / 40.0) as u32).is_multiple_of(2) { 40.0 } else { 0.0 };
            let r = 60.0 + 150.0 * x as f32 / width as f32 + noise;
            let g = 40.0 + 120.0 * y as f32 / height as f32 + ring + noise;
            let b = 80.0 + (n * 13 % 120) as f32 + noise;
            Rgb([r.min(255.0) as u8, g.min(255.0) as u8, b.min(255.0) as u8])
        });
        img.save(dir.join(format!("photo-{n:03}.jpg"))).unwrap();
    }
    println!("wrote {count} photos of {width} × {height} to {}", dir.display());
}
