//! The demo pipeline: `readings` feeds `total` and `spread`, both feed `report`.
//!
//! ```text
//!             ┌─> total ──┐
//! readings ───┤           ├─> report
//!             └─> spread ─┘
//! ```

use weavelet_sdk as weavelet;

/// `count` deterministic sensor readings (a sawtooth with a little wobble).
#[weavelet::node]
fn readings(count: i64) -> Result<Vec<f64>, String> {
    if !(1..=1_000_000).contains(&count) {
        return Err(format!("count must be between 1 and 1000000, got {count}"));
    }
    weavelet::progress(0, count as u64, "generating readings");
    let values = (0..count).map(|i| 20.0 + (i % 10) as f64 * 0.5 + ((i * 7919) % 13) as f64 * 0.01).collect();
    weavelet::progress(count as u64, count as u64, "generating readings");
    Ok(values)
}

/// The sum of all readings.
#[weavelet::node]
fn total(readings: Vec<f64>) -> f64 {
    readings.iter().sum()
}

/// The smallest and largest reading, as `[min, max]`.
#[weavelet::node]
fn spread(readings: Vec<f64>) -> Vec<f64> {
    let min = readings.iter().copied().fold(f64::INFINITY, f64::min);
    let max = readings.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    vec![min, max]
}

/// A one-line report of the total and the spread, in `unit` (optional).
#[weavelet::node]
fn report(total: f64, spread: Vec<f64>, unit: Option<String>) -> Result<String, String> {
    let [min, max] = spread[..] else {
        return Err(format!("spread must hold [min, max], got {} values", spread.len()));
    };
    let unit = unit.unwrap_or_default();
    weavelet::info(&format!("reporting on a spread of {:.2}{unit}", max - min));
    Ok(format!("total {total:.2}{unit}, range {min:.2}{unit} .. {max:.2}{unit}"))
}

weavelet::export!(readings, total, spread, report);
