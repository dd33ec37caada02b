//! `Image::decode`: PNG, JPEG, WebP and GIF bytes from a guest or a file,
//! under the pixel and allocation caps (8192 × 8192, 256 MiB), then an encode
//! of the result to PNG (as an output file would be written) when it is small.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use weavelet::Image;

fuzz_target!(init: common::init(), |data: &[u8]| {
    let Ok(image) = Image::decode(data, "fuzz") else { return };
    let _ = (image.width(), image.height(), image.byte_size());
    if u64::from(image.width()) * u64::from(image.height()) <= 512 * 512 {
        let _ = image.encode("png");
    }
});
