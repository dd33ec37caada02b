//! A layered drawing of a DAG, left to right (the Sugiyama method): ranks by
//! longest path, long edges split by dummy points, crossings reduced by
//! barycentre sweeps (ties kept together by group), then each column placed
//! by pulling boxes towards their neighbours without ever overlapping.
//!
//! Deterministic: the same graph gives the same drawing.

/// A box to place: its size and the group (source) it belongs to.
#[derive(Debug, Clone)]
pub struct Vertex {
    pub width: f64,
    pub height: f64,
    pub group: usize,
}

/// An edge between vertices, arriving at `to_y`: the offset from the top of
/// the target box where it ends (an input's port).
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub to_y: f64,
}

/// Where everything went: each vertex's top-left corner, each edge's points
/// (from the source's right side, through its bends, to the target's port),
/// and the drawing's size.
#[derive(Debug, Clone)]
pub struct Layout {
    pub boxes: Vec<(f64, f64)>,
    pub edges: Vec<Vec<(f64, f64)>>,
    pub width: f64,
    pub height: f64,
}

/// Horizontal space between columns (edges run there).
const COLUMN_GAP: f64 = 70.0;
/// Vertical space between boxes of a column.
const ROW_GAP: f64 = 18.0;
/// The space a bend of a long edge takes in a column.
const BEND: f64 = 10.0;
/// Around the drawing.
pub const MARGIN: f64 = 20.0;

/// One entry of a column: a vertex, or a bend of a long edge.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Vertex(usize),
    Bend(usize),
}

pub fn layout(vertices: &[Vertex], edges: &[Edge]) -> Layout {
    let n = vertices.len();
    let rank = ranks(n, edges);
    let columns = rank.iter().copied().max().map_or(0, |r| r + 1);
    // Every edge becomes a chain of slots, one per column it crosses.
    let mut layers: Vec<Vec<Slot>> = vec![Vec::new(); columns];
    for (v, r) in rank.iter().enumerate() {
        layers[*r].push(Slot::Vertex(v));
    }
    let mut chains: Vec<Vec<Slot>> = Vec::with_capacity(edges.len());
    let mut bends = 0;
    for e in edges {
        let mut chain = vec![Slot::Vertex(e.from)];
        for layer in layers.iter_mut().take(rank[e.to]).skip(rank[e.from] + 1) {
            layer.push(Slot::Bend(bends));
            chain.push(Slot::Bend(bends));
            bends += 1;
        }
        chain.push(Slot::Vertex(e.to));
        chains.push(chain);
    }
    let slot_index = |s: Slot| match s {
        Slot::Vertex(v) => v,
        Slot::Bend(b) => n + b,
    };
    let total = n + bends;
    // Neighbours of each slot in the previous and next column.
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); total];
    for chain in &chains {
        for pair in chain.windows(2) {
            let (a, b) = (slot_index(pair[0]), slot_index(pair[1]));
            after[a].push(b);
            before[b].push(a);
        }
    }
    let group = |s: Slot| match s {
        Slot::Vertex(v) => vertices[v].group,
        Slot::Bend(_) => usize::MAX,
    };
    // Start grouped (by source, then by first appearance), then sweep.
    for layer in &mut layers {
        layer.sort_by_key(|s| (group(*s), slot_index(*s)));
    }
    let mut position = vec![0.0f64; total];
    let place = |layers: &[Vec<Slot>], position: &mut [f64]| {
        for layer in layers {
            for (i, s) in layer.iter().enumerate() {
                position[slot_index(*s)] = i as f64;
            }
        }
    };
    place(&layers, &mut position);
    let mut best = layers.clone();
    let mut best_crossings = crossings(&layers, &after, &position, slot_index);
    for sweep in 0..24 {
        if best_crossings == 0 {
            break;
        }
        let down = sweep % 2 == 0;
        let order: Vec<usize> =
            if down { (1..columns).collect() } else { (0..columns.saturating_sub(1)).rev().collect() };
        for c in order {
            let neighbours = if down { &before } else { &after };
            let mut keyed: Vec<(f64, usize, usize, Slot)> = layers[c]
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let ns = &neighbours[slot_index(*s)];
                    let key = if ns.is_empty() {
                        i as f64
                    } else {
                        ns.iter().map(|k| position[*k]).sum::<f64>() / ns.len() as f64
                    };
                    (key, group(*s), i, *s)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            layers[c] = keyed.into_iter().map(|k| k.3).collect();
            for (i, s) in layers[c].iter().enumerate() {
                position[slot_index(*s)] = i as f64;
            }
        }
        let now = crossings(&layers, &after, &position, slot_index);
        if now < best_crossings {
            best_crossings = now;
            best = layers.clone();
        }
    }
    let layers = best;

    // Columns: as wide as their widest box.
    let size = |s: Slot| match s {
        Slot::Vertex(v) => (vertices[v].width, vertices[v].height),
        Slot::Bend(_) => (0.0, BEND),
    };
    let mut x_of_column = Vec::with_capacity(columns);
    let mut x = MARGIN;
    let mut column_width = Vec::with_capacity(columns);
    for layer in &layers {
        let width = layer.iter().map(|s| size(*s).0).fold(0.0, f64::max);
        x_of_column.push(x);
        column_width.push(width);
        x += width + COLUMN_GAP;
    }
    // Rows: stacked, then pulled towards their neighbours' centres.
    let mut centre = vec![0.0f64; total];
    for layer in &layers {
        let mut y = 0.0;
        for s in layer {
            let h = size(*s).1;
            centre[slot_index(*s)] = y + h / 2.0;
            y += h + ROW_GAP;
        }
    }
    for round in 0..16 {
        let order: Vec<usize> =
            if round % 2 == 0 { (0..columns).collect() } else { (0..columns).rev().collect() };
        for c in order {
            let layer = &layers[c];
            let wanted: Vec<f64> = layer
                .iter()
                .map(|s| {
                    let k = slot_index(*s);
                    let ns: Vec<f64> = before[k].iter().chain(&after[k]).map(|j| centre[*j]).collect();
                    if ns.is_empty() { centre[k] } else { ns.iter().sum::<f64>() / ns.len() as f64 }
                })
                .collect();
            let gaps: Vec<f64> =
                layer.windows(2).map(|p| (size(p[0]).1 + size(p[1]).1) / 2.0 + ROW_GAP).collect();
            for (s, y) in layer.iter().zip(separate(&wanted, &gaps)) {
                centre[slot_index(*s)] = y;
            }
        }
    }
    // Shift everything below the top margin.
    let top = layers
        .iter()
        .flatten()
        .map(|s| centre[slot_index(*s)] - size(*s).1 / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() { MARGIN - top } else { MARGIN };
    for c in centre.iter_mut() {
        *c += shift;
    }
    let mut column_of = vec![0usize; total];
    for (c, layer) in layers.iter().enumerate() {
        for s in layer {
            column_of[slot_index(*s)] = c;
        }
    }
    let boxes: Vec<(f64, f64)> = (0..n)
        .map(|v| {
            let c = column_of[v];
            // Boxes narrower than their column sit at its left.
            (x_of_column[c], centre[v] - vertices[v].height / 2.0)
        })
        .collect();
    let edges_drawn = chains
        .iter()
        .zip(edges)
        .map(|(chain, e)| {
            let mut points = Vec::with_capacity(chain.len());
            let (fx, fy) = boxes[e.from];
            points.push((fx + vertices[e.from].width, fy + vertices[e.from].height / 2.0));
            for s in &chain[1..chain.len() - 1] {
                let k = slot_index(*s);
                let c = column_of[k];
                // A bend crosses its column at mid height, over the whole width.
                points.push((x_of_column[c], centre[k]));
                points.push((x_of_column[c] + column_width[c], centre[k]));
            }
            let (tx, ty) = boxes[e.to];
            points.push((tx, ty + e.to_y));
            points
        })
        .collect();
    let bottom =
        layers.iter().flatten().map(|s| centre[slot_index(*s)] + size(*s).1 / 2.0).fold(0.0, f64::max);
    Layout {
        boxes,
        edges: edges_drawn,
        width: (x - COLUMN_GAP + MARGIN).max(2.0 * MARGIN),
        height: bottom + MARGIN,
    }
}

/// Each vertex's column: one past its furthest input; a vertex without inputs
/// (a parameter) sits just before the first vertex that reads it.
fn ranks(n: usize, edges: &[Edge]) -> Vec<usize> {
    let mut incoming = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        incoming[e.to] += 1;
        out[e.from].push(e.to);
    }
    let mut rank = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|v| incoming[*v] == 0).collect();
    ready.reverse();
    let mut order = Vec::with_capacity(n);
    let mut left = incoming.clone();
    while let Some(v) = ready.pop() {
        order.push(v);
        for &w in &out[v] {
            rank[w] = rank[w].max(rank[v] + 1);
            left[w] -= 1;
            if left[w] == 0 {
                ready.push(w);
            }
        }
    }
    // Sources move right, next to their first reader.
    for &v in order.iter().rev() {
        if incoming[v] == 0 && !out[v].is_empty() {
            rank[v] = out[v].iter().map(|w| rank[*w]).min().unwrap_or(1).saturating_sub(1);
        }
    }
    rank
}

/// Edge crossings between neighbouring columns (inversions, counted with a
/// Fenwick tree: O(E log E) a column).
fn crossings(
    layers: &[Vec<Slot>],
    after: &[Vec<usize>],
    position: &[f64],
    index: impl Fn(Slot) -> usize,
) -> usize {
    let mut total = 0;
    for pair in layers.windows(2) {
        let mut ends: Vec<(usize, usize)> = Vec::new();
        for s in &pair[0] {
            let a = index(*s);
            for b in &after[a] {
                ends.push((position[a] as usize, position[*b] as usize));
            }
        }
        ends.sort_unstable();
        let size = pair[1].len() + 1;
        let mut tree = vec![0usize; size + 1];
        for (seen, (_, b)) in ends.iter().enumerate() {
            // Edges already seen that end below this one cross it.
            let mut at_most = 0;
            let mut i = b + 1;
            while i > 0 {
                at_most += tree[i];
                i -= i & i.wrapping_neg();
            }
            total += seen - at_most;
            let mut i = b + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
        }
    }
    total
}

/// Positions as close to `wanted` as order and the gaps allow: the mean of
/// the placement packed from the top and the one packed from the bottom
/// (both keep every gap, so their mean does too).
fn separate(wanted: &[f64], gaps: &[f64]) -> Vec<f64> {
    let n = wanted.len();
    if n == 0 {
        return Vec::new();
    }
    let mut down = wanted.to_vec();
    for i in 1..n {
        down[i] = down[i].max(down[i - 1] + gaps[i - 1]);
    }
    let mut up = wanted.to_vec();
    for i in (0..n - 1).rev() {
        up[i] = up[i].min(up[i + 1] - gaps[i]);
    }
    down.iter().zip(&up).map(|(a, b)| (a + b) / 2.0).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn boxes_overlap(l: &Layout, v: &[Vertex]) -> Option<(usize, usize)> {
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                let (a, b) = (l.boxes[i], l.boxes[j]);
                let apart = a.0 + v[i].width <= b.0
                    || b.0 + v[j].width <= a.0
                    || a.1 + v[i].height <= b.1
                    || b.1 + v[j].height <= a.1;
                if !apart {
                    return Some((i, j));
                }
            }
        }
        None
    }

    #[test]
    fn a_diamond_is_three_columns_without_crossings() {
        let v = vec![Vertex { width: 80.0, height: 40.0, group: 0 }; 4];
        let e = |from, to| Edge { from, to, to_y: 20.0 };
        let edges = [e(0, 1), e(0, 2), e(1, 3), e(2, 3)];
        let l = layout(&v, &edges);
        assert_eq!(l.boxes[1].0, l.boxes[2].0, "the two middle nodes share a column");
        assert!(l.boxes[0].0 < l.boxes[1].0 && l.boxes[1].0 < l.boxes[3].0);
        assert!(boxes_overlap(&l, &v).is_none());
        // Edges start at their source's right side and end at the target's port.
        assert_eq!(l.edges[0][0], (l.boxes[0].0 + 80.0, l.boxes[0].1 + 20.0));
        assert_eq!(*l.edges[3].last().unwrap(), (l.boxes[3].0, l.boxes[3].1 + 20.0));
    }

    #[test]
    fn a_parameter_sits_next_to_its_reader_and_long_edges_bend() {
        // 0 -> 1 -> 2 -> 3, and 0 -> 3; parameter 4 read only by 3.
        let v = vec![Vertex { width: 50.0, height: 30.0, group: 0 }; 5];
        let e = |from, to| Edge { from, to, to_y: 10.0 };
        let l = layout(&v, &[e(0, 1), e(1, 2), e(2, 3), e(0, 3), e(4, 3)]);
        assert_eq!(l.boxes[4].0, l.boxes[2].0, "the parameter is one column before its reader");
        assert_eq!(l.edges[3].len(), 2 + 2 * 2, "the long edge bends in the two columns it crosses");
        assert!(boxes_overlap(&l, &v).is_none());
    }

    #[test]
    fn five_hundred_nodes_never_overlap_and_crossings_drop() {
        // A layered random DAG: 500 vertices of varied sizes in 10 groups.
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let v: Vec<Vertex> = (0..500)
            .map(|i| Vertex {
                width: 60.0 + (next() % 200) as f64,
                height: 30.0 + (next() % 5) as f64 * 14.0,
                group: i % 10,
            })
            .collect();
        let mut edges = Vec::new();
        for to in 20..500 {
            for _ in 0..1 + next() % 3 {
                edges.push(Edge { from: next() % to, to, to_y: 12.0 });
            }
        }
        let l = layout(&v, &edges);
        assert!(boxes_overlap(&l, &v).is_none());
        assert!(l.width < 100_000.0 && l.height < 100_000.0, "{} x {}", l.width, l.height);
        for (points, e) in l.edges.iter().zip(&edges) {
            for pair in points.windows(2) {
                assert!(pair[0].0 <= pair[1].0, "edge {e:?} runs left to right");
            }
        }
    }

    #[test]
    fn crossings_are_counted() {
        // Two edges from column 0 to column 1, crossed.
        let layers = vec![vec![Slot::Vertex(0), Slot::Vertex(1)], vec![Slot::Vertex(2), Slot::Vertex(3)]];
        let after = vec![vec![3], vec![2], vec![], vec![]];
        let position = vec![0.0, 1.0, 0.0, 1.0];
        let index = |s: Slot| match s {
            Slot::Vertex(v) | Slot::Bend(v) => v,
        };
        assert_eq!(crossings(&layers, &after, &position, index), 1);
        let after = vec![vec![2], vec![3], vec![], vec![]];
        assert_eq!(crossings(&layers, &after, &position, index), 0);
    }

    #[test]
    fn separation_keeps_order_and_gaps() {
        let y = separate(&[10.0, 10.0, 10.0], &[20.0, 20.0]);
        assert_eq!(y, vec![-10.0, 10.0, 30.0]);
        assert_eq!(separate(&[0.0, 100.0], &[20.0]), vec![0.0, 100.0]);
    }
}
