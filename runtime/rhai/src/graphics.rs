//! SVG documents, charts and images in Rhai: the `svg` and `image` types,
//! the same operations components reach through WIT.
//!
//! ```rhai
//! fn chart(totals) {
//!     bar_chart(totals, #{ x: "region", y: "revenue", title: "Revenue by region" })
//! }
//! fn thumbnails() {
//!     list_images("photos").map(|p| read_image(p).thumbnail(160, 160))
//! }
//! ```
//!
//! Numbers may be written as ints or floats. Attributes are maps
//! (`#{ fill: "red", stroke_width: 2 }`); `_` in a name becomes `-`.

use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, Map, Position};

use weavelet_data::graphics::{chart, raster};
use weavelet_data::{ChartKind, ChartSpec, GraphicsError, Image, Svg, Table};

type Res<T> = Result<T, Box<EvalAltResult>>;

fn err(e: GraphicsError) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(e.message.into(), Position::NONE))
}

fn fail(message: String) -> Box<EvalAltResult> {
    err(GraphicsError::new(message))
}

/// A number given as an int or a float.
fn num(d: &Dynamic, what: &str) -> Res<f64> {
    d.as_float()
        .or_else(|_| d.as_int().map(|i| i as f64))
        .map_err(|t| fail(format!("{what} must be a number, not {t}")))
}

fn int(d: &Dynamic, what: &str) -> Res<i64> {
    d.as_int().map_err(|t| fail(format!("{what} must be an integer, not {t}")))
}

fn pixels(d: &Dynamic, what: &str) -> Res<u32> {
    let v = int(d, what)?;
    u32::try_from(v).map_err(|_| fail(format!("{what} must be between 0 and {}, not {v}", u32::MAX)))
}

/// Attributes from a map; values may be strings or numbers.
fn attrs(map: &Map) -> Res<Vec<(String, String)>> {
    map.iter()
        .map(|(k, v)| {
            let value = if v.is_string() || v.is_int() || v.is_float() || v.is_bool() {
                v.to_string()
            } else {
                return Err(fail(format!(
                    "attribute `{k}` must be a string or a number, not {}",
                    v.type_name()
                )));
            };
            Ok((k.replace('_', "-"), value))
        })
        .collect()
}

fn text_of(map: &Map, key: &str) -> Res<String> {
    match map.get(key) {
        None => Ok(String::new()),
        Some(v) if v.is_string() => Ok(v.to_string()),
        Some(v) => Err(fail(format!("chart option `{key}` must be a string, not {}", v.type_name()))),
    }
}

fn spec(kind: ChartKind, options: &Map) -> Res<ChartSpec> {
    const KEYS: [&str; 8] = ["x", "y", "title", "x_label", "y_label", "width", "height", "bins"];
    if let Some(unknown) = options.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(fail(format!("`{unknown}` is not a chart option; the options are {}", KEYS.join(", "))));
    }
    let y = match options.get("y") {
        None => Vec::new(),
        Some(v) if v.is_string() => vec![v.to_string()],
        Some(v) if v.is_array() => v
            .clone()
            .into_array()
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                d.into_string().map_err(|t| fail(format!("chart option `y` must hold column names, not {t}")))
            })
            .collect::<Res<_>>()?,
        Some(v) => {
            return Err(fail(format!(
                "chart option `y` must be a column name or an array of them, not {}",
                v.type_name()
            )));
        }
    };
    let number = |key: &str| -> Res<f64> { options.get(key).map_or(Ok(0.0), |d| num(d, key)) };
    Ok(ChartSpec {
        kind,
        x: text_of(options, "x")?,
        y,
        title: text_of(options, "title")?,
        x_label: text_of(options, "x_label")?,
        y_label: text_of(options, "y_label")?,
        width: number("width")?,
        height: number("height")?,
        bins: options.get("bins").map_or(Ok(0), |d| pixels(d, "bins"))?,
    })
}

fn svgs(items: Array, what: &str) -> Res<Vec<Svg>> {
    items
        .into_iter()
        .map(|d| {
            let t = d.type_name();
            d.try_cast::<Svg>().ok_or_else(|| fail(format!("{what} must be svgs, not {t}")))
        })
        .collect()
}

fn images(items: Array, what: &str) -> Res<Vec<Image>> {
    items
        .into_iter()
        .map(|d| {
            let t = d.type_name();
            d.try_cast::<Image>().ok_or_else(|| fail(format!("{what} must be images, not {t}")))
        })
        .collect()
}

pub(crate) fn register(engine: &mut Engine) {
    register_svg(engine);
    register_charts(engine);
    register_images(engine);
}

fn register_svg(engine: &mut Engine) {
    engine.register_type_with_name::<Svg>("svg");
    engine.register_fn("svg", |w: Dynamic, h: Dynamic| -> Res<Svg> {
        Svg::new(num(&w, "width")?, num(&h, "height")?).map_err(err)
    });
    engine.register_fn("parse_svg", |text: &str| -> Res<Svg> { Svg::parse(text).map_err(err) });
    engine.register_fn("read_svg", |path: &str| -> Res<Svg> {
        let (grants, log) = super::engine::reader();
        Svg::read(&grants, &log, path).map_err(err)
    });
    engine.register_get("width", |s: &mut Svg| s.width());
    engine.register_get("height", |s: &mut Svg| s.height());
    engine.register_fn(
        "view_box",
        |s: &mut Svg, x: Dynamic, y: Dynamic, w: Dynamic, h: Dynamic| -> Res<Svg> {
            s.clone()
                .view_box(num(&x, "x")?, num(&y, "y")?, num(&w, "width")?, num(&h, "height")?)
                .map_err(err)
        },
    );
    // Each shape with and without an attribute map.
    engine.register_fn(
        "rect",
        |s: &mut Svg, x: Dynamic, y: Dynamic, w: Dynamic, h: Dynamic, a: Map| -> Res<Svg> {
            s.clone()
                .rect(num(&x, "x")?, num(&y, "y")?, num(&w, "width")?, num(&h, "height")?, &attrs(&a)?)
                .map_err(err)
        },
    );
    engine.register_fn("rect", |s: &mut Svg, x: Dynamic, y: Dynamic, w: Dynamic, h: Dynamic| -> Res<Svg> {
        s.clone().rect(num(&x, "x")?, num(&y, "y")?, num(&w, "width")?, num(&h, "height")?, &[]).map_err(err)
    });
    engine.register_fn("circle", |s: &mut Svg, cx: Dynamic, cy: Dynamic, r: Dynamic, a: Map| -> Res<Svg> {
        s.clone().circle(num(&cx, "cx")?, num(&cy, "cy")?, num(&r, "r")?, &attrs(&a)?).map_err(err)
    });
    engine.register_fn("circle", |s: &mut Svg, cx: Dynamic, cy: Dynamic, r: Dynamic| -> Res<Svg> {
        s.clone().circle(num(&cx, "cx")?, num(&cy, "cy")?, num(&r, "r")?, &[]).map_err(err)
    });
    engine.register_fn(
        "ellipse",
        |s: &mut Svg, cx: Dynamic, cy: Dynamic, rx: Dynamic, ry: Dynamic, a: Map| -> Res<Svg> {
            s.clone()
                .ellipse(num(&cx, "cx")?, num(&cy, "cy")?, num(&rx, "rx")?, num(&ry, "ry")?, &attrs(&a)?)
                .map_err(err)
        },
    );
    engine.register_fn(
        "ellipse",
        |s: &mut Svg, cx: Dynamic, cy: Dynamic, rx: Dynamic, ry: Dynamic| -> Res<Svg> {
            s.clone()
                .ellipse(num(&cx, "cx")?, num(&cy, "cy")?, num(&rx, "rx")?, num(&ry, "ry")?, &[])
                .map_err(err)
        },
    );
    engine.register_fn(
        "line",
        |s: &mut Svg, x1: Dynamic, y1: Dynamic, x2: Dynamic, y2: Dynamic, a: Map| -> Res<Svg> {
            s.clone()
                .line(num(&x1, "x1")?, num(&y1, "y1")?, num(&x2, "x2")?, num(&y2, "y2")?, &attrs(&a)?)
                .map_err(err)
        },
    );
    engine.register_fn(
        "line",
        |s: &mut Svg, x1: Dynamic, y1: Dynamic, x2: Dynamic, y2: Dynamic| -> Res<Svg> {
            s.clone()
                .line(num(&x1, "x1")?, num(&y1, "y1")?, num(&x2, "x2")?, num(&y2, "y2")?, &[])
                .map_err(err)
        },
    );
    engine.register_fn("polyline", |s: &mut Svg, points: Array, a: Map| -> Res<Svg> {
        s.clone().polyline(&points_of(points)?, &attrs(&a)?).map_err(err)
    });
    engine.register_fn("polyline", |s: &mut Svg, points: Array| -> Res<Svg> {
        s.clone().polyline(&points_of(points)?, &[]).map_err(err)
    });
    engine.register_fn("path", |s: &mut Svg, d: &str, a: Map| -> Res<Svg> {
        s.clone().path(d, &attrs(&a)?).map_err(err)
    });
    engine.register_fn("path", |s: &mut Svg, d: &str| -> Res<Svg> { s.clone().path(d, &[]).map_err(err) });
    engine.register_fn("text", |s: &mut Svg, x: Dynamic, y: Dynamic, content: &str, a: Map| -> Res<Svg> {
        s.clone().text(num(&x, "x")?, num(&y, "y")?, content, &attrs(&a)?).map_err(err)
    });
    engine.register_fn("text", |s: &mut Svg, x: Dynamic, y: Dynamic, content: &str| -> Res<Svg> {
        s.clone().text(num(&x, "x")?, num(&y, "y")?, content, &[]).map_err(err)
    });
    engine.register_fn("group", |s: &mut Svg, content: Svg, a: Map| -> Res<Svg> {
        s.clone().group(&content, &attrs(&a)?).map_err(err)
    });
    engine.register_fn("group", |s: &mut Svg, content: Svg| -> Res<Svg> {
        s.clone().group(&content, &[]).map_err(err)
    });
    engine.register_fn("place", |s: &mut Svg, content: Svg, x: Dynamic, y: Dynamic| -> Res<Svg> {
        s.clone().place(&content, num(&x, "x")?, num(&y, "y")?, 1.0).map_err(err)
    });
    engine.register_fn(
        "place",
        |s: &mut Svg, content: Svg, x: Dynamic, y: Dynamic, scale: Dynamic| -> Res<Svg> {
            s.clone().place(&content, num(&x, "x")?, num(&y, "y")?, num(&scale, "scale")?).map_err(err)
        },
    );
    engine.register_fn("to_text", |s: &mut Svg| s.to_text());
    engine.register_fn("to_string", |s: &mut Svg| s.to_string());
    engine.register_fn("render", |s: &mut Svg| -> Res<Image> { raster::render(s, 1.0).map_err(err) });
    engine.register_fn("render", |s: &mut Svg, scale: Dynamic| -> Res<Image> {
        raster::render(s, num(&scale, "scale")?).map_err(err)
    });
}

fn points_of(points: Array) -> Res<Vec<(f64, f64)>> {
    points
        .into_iter()
        .map(|p| {
            let pair = p.into_array().map_err(|t| fail(format!("points must be [x, y] arrays, not {t}")))?;
            match pair.as_slice() {
                [x, y] => Ok((num(x, "a point's x")?, num(y, "a point's y")?)),
                _ => Err(fail(format!("a point must be [x, y], not {} numbers", pair.len()))),
            }
        })
        .collect()
}

fn register_charts(engine: &mut Engine) {
    engine.register_fn("chart", |kind: &str, data: Table, options: Map| -> Res<Svg> {
        let kind = ChartKind::from_name(kind).map_err(err)?;
        chart::chart(&data, &spec(kind, &options)?).map_err(err)
    });
    for (name, kind) in [
        ("bar_chart", ChartKind::Bar),
        ("hbar_chart", ChartKind::HorizontalBar),
        ("line_chart", ChartKind::Line),
        ("scatter_chart", ChartKind::Scatter),
        ("histogram", ChartKind::Histogram),
        ("metric_card", ChartKind::Metric),
    ] {
        engine.register_fn(name, move |data: Table, options: Map| -> Res<Svg> {
            chart::chart(&data, &spec(kind, &options)?).map_err(err)
        });
    }
    engine.register_fn("card", |label: &str, value: Dynamic, detail: &str| -> Res<Svg> {
        let value = match num(&value, "value") {
            Ok(v) => chart::compact(v),
            Err(_) => value.to_string(),
        };
        chart::card(label, &value, detail).map_err(err)
    });
    engine.register_fn("dashboard", |title: &str, items: Array, columns: i64| -> Res<Svg> {
        let columns =
            u32::try_from(columns).map_err(|_| fail(format!("columns must be positive, not {columns}")))?;
        chart::dashboard(title, &svgs(items, "dashboard items")?, columns).map_err(err)
    });
}

fn register_images(engine: &mut Engine) {
    engine.register_type_with_name::<Image>("image");
    engine.register_fn("read_image", |path: &str| -> Res<Image> {
        let (grants, log) = super::engine::reader();
        Image::read(&grants, &log, path).map_err(err)
    });
    engine.register_fn("decode_image", |bytes: Blob| -> Res<Image> {
        Image::decode(&bytes, "image").map_err(err)
    });
    engine.register_fn("list_images", |dir: &str| -> Res<Array> {
        let (grants, log) = super::engine::reader();
        let paths = Image::list(&grants, &log, dir).map_err(err)?;
        if paths.len() > super::engine::MAX_ARRAY {
            return Err(fail(format!("`{dir}` holds more images than a script array may hold")));
        }
        Ok(paths.into_iter().map(Into::into).collect())
    });
    engine.register_fn("blank_image", |w: Dynamic, h: Dynamic, rgba: Array| -> Res<Image> {
        let channel = |d: &Dynamic| -> Res<u8> {
            let v = int(d, "a colour channel")?;
            u8::try_from(v).map_err(|_| fail(format!("a colour channel is 0 to 255, not {v}")))
        };
        let color = match rgba.as_slice() {
            [r, g, b] => [channel(r)?, channel(g)?, channel(b)?, 255],
            [r, g, b, a] => [channel(r)?, channel(g)?, channel(b)?, channel(a)?],
            _ => return Err(fail("a colour is [r, g, b] or [r, g, b, a]".into())),
        };
        Image::blank(pixels(&w, "width")?, pixels(&h, "height")?, color).map_err(err)
    });
    engine.register_fn(
        "contact_sheet",
        |items: Array, columns: Dynamic, cell_w: Dynamic, cell_h: Dynamic, gap: Dynamic| -> Res<Image> {
            Image::contact_sheet(
                &images(items, "contact sheet items")?,
                pixels(&columns, "columns")?,
                pixels(&cell_w, "cell width")?,
                pixels(&cell_h, "cell height")?,
                pixels(&gap, "gap")?,
            )
            .map_err(err)
        },
    );
    engine.register_get("width", |i: &mut Image| i64::from(i.width()));
    engine.register_get("height", |i: &mut Image| i64::from(i.height()));
    engine.register_get("name", |i: &mut Image| i.name().to_string());
    engine.register_fn("with_name", |i: &mut Image, name: &str| i.with_name(name));
    engine.register_fn("to_string", |i: &mut Image| i.to_string());
    engine.register_fn("resize", |i: &mut Image, w: Dynamic, h: Dynamic| -> Res<Image> {
        i.resize(pixels(&w, "width")?, pixels(&h, "height")?).map_err(err)
    });
    engine.register_fn("thumbnail", |i: &mut Image, w: Dynamic, h: Dynamic| -> Res<Image> {
        i.thumbnail(pixels(&w, "width")?, pixels(&h, "height")?).map_err(err)
    });
    engine.register_fn(
        "crop",
        |i: &mut Image, x: Dynamic, y: Dynamic, w: Dynamic, h: Dynamic| -> Res<Image> {
            i.crop(pixels(&x, "x")?, pixels(&y, "y")?, pixels(&w, "width")?, pixels(&h, "height")?)
                .map_err(err)
        },
    );
    engine.register_fn("rotate", |i: &mut Image, degrees: i64| -> Res<Image> {
        i.rotate(degrees).map_err(err)
    });
    engine.register_fn("flip_horizontal", |i: &mut Image| i.flip(true));
    engine.register_fn("flip_vertical", |i: &mut Image| i.flip(false));
    engine.register_fn("grayscale", |i: &mut Image| i.grayscale());
    engine.register_fn("blur", |i: &mut Image, sigma: Dynamic| -> Res<Image> {
        i.blur(num(&sigma, "sigma")?).map_err(err)
    });
    engine.register_fn("brighten", |i: &mut Image, amount: i64| -> Res<Image> {
        i.brighten(amount).map_err(err)
    });
    engine.register_fn("contrast", |i: &mut Image, percent: Dynamic| -> Res<Image> {
        i.contrast(num(&percent, "contrast")?).map_err(err)
    });
    engine.register_fn("overlay", |i: &mut Image, top: Image, x: i64, y: i64| i.overlay(&top, x, y));
    engine
        .register_fn("encode", |i: &mut Image, format: &str| -> Res<Blob> { i.encode(format).map_err(err) });
}
