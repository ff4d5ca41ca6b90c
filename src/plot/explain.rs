//! The figures of `--explain`: line panels (1D loss slices, lesions, gradient correlations,
//! branch ratios) and contour maps of the 2D loss surfaces, drawn by marching squares with
//! labelled levels. plotters draws lines, not contours; the contouring is here.

use super::{COLORS, FONT, err, legend, with_note};
use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

/// One line of a panel; lines of one colour index share a colour, dashed ones are residual nets
/// or a second point of training, as the caller decides.
#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub color: usize,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// One panel of lines with its axes; y values outside `y` are cut where the line leaves.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub y: (f64, f64),
    pub log_y: bool,
    pub lines: Vec<Line>,
    /// Where the legend goes: where the lines leave room.
    pub legend: Corner,
}

/// A place for a panel's legend.
#[derive(Debug, Clone, Copy)]
pub enum Corner {
    UpperRight,
    MiddleRight,
    LowerLeft,
}

/// Panels two a row (one alone fills the row), `note` below.
pub fn lines_figure(path: &Path, note: &str, panels: &[Panel]) -> Result<()> {
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1);
    with_note(path, (1800, 640 * rows as u32), note, |top| {
        for (area, p) in top.split_evenly((rows, cols)).iter().zip(panels) {
            if p.log_y {
                line_panel(area, p, (p.y.0..p.y.1).log_scale())?;
            } else {
                line_panel(area, p, p.y.0..p.y.1)?;
            }
        }
        Ok(())
    })
}

fn line_panel<DB: DrawingBackend, Y>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
    y: Y,
) -> Result<()>
where
    DB::ErrorType: 'static,
    Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
    <Y as plotters::coord::ranged1d::AsRangedCoord>::CoordDescType:
        plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let xs = p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { (0.0, 1.0) };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x0..x1, y)
        .map_err(err)?;
    let whole = p.lines.iter().flat_map(|l| &l.points).all(|q| q.0.fract() == 0.0);
    let x_label = move |v: &f64| if whole { format!("{v:.0}") } else { format!("{v:.1}") };
    let y_label = |v: &f64| if v.abs() >= 10.0 { format!("{v:.0}") } else { format!("{v}") };
    chart
        .configure_mesh()
        .x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style((FONT, 20))
        .axis_desc_style((FONT, 22))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let (lo, hi) = p.y;
    for l in &p.lines {
        let style = COLORS[l.color % COLORS.len()].stroke_width(3);
        let width = if l.dashed { 12 } else { 30 };
        chart
            .draw_series(LineSeries::new(Vec::new(), style))
            .map_err(err)?
            .label(l.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + width, y)], style));
        for piece in within(&l.points, lo, hi) {
            if l.dashed {
                chart.draw_series(DashedLineSeries::new(piece, 10, 6, style)).map_err(err)?;
            } else {
                chart.draw_series(LineSeries::new(piece, style)).map_err(err)?;
            }
        }
    }
    let at = match p.legend {
        Corner::UpperRight => SeriesLabelPosition::UpperRight,
        Corner::MiddleRight => SeriesLabelPosition::MiddleRight,
        Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
    };
    legend(&mut chart, at, 20)?;
    Ok(())
}

/// The parts of a line inside [lo, hi], cut where it crosses either bound.
fn within(pts: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let negated = |piece: &[(f64, f64)]| piece.iter().map(|&(x, y)| (x, -y)).collect::<Vec<_>>();
    super::below(pts, hi)
        .iter()
        .flat_map(|piece| super::below(&negated(piece), -lo))
        .map(|p| negated(&p))
        .collect()
}

/// One contour map: `values[i][j]` at (`axis[i]`, `axis[j]`).
#[derive(Debug, Clone)]
pub struct ContourMap {
    pub title: String,
    pub axis: Vec<f64>,
    pub values: Vec<Vec<f64>>,
}

type Segment = ((f64, f64), (f64, f64));

/// The contour of `values` at `level` by marching squares: a segment in every grid cell whose
/// corners lie on both sides of the level, its ends interpolated linearly along the cell's edges.
/// A cell with all four edges crossed (a saddle) is resolved by its centre value (the mean of
/// its corners): the corners on the other side of the centre are the ones cut off.
pub fn contour(axis: &[f64], values: &[Vec<f64>], level: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    for i in 0..axis.len().saturating_sub(1) {
        for j in 0..axis.len().saturating_sub(1) {
            // Corners counter-clockwise from (i, j); edge k runs from corner k to corner k + 1.
            let c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let v = c.map(|(a, b)| values[a][b]);
            let above = v.map(|x| x >= level);
            let cross = |k: usize| -> Option<(f64, f64)> {
                let m = (k + 1) % 4;
                (above[k] != above[m]).then(|| {
                    let f = (level - v[k]) / (v[m] - v[k]);
                    let (p, q) = (c[k], c[m]);
                    (axis[p.0] + f * (axis[q.0] - axis[p.0]), axis[p.1] + f * (axis[q.1] - axis[p.1]))
                })
            };
            let crossed: Vec<(f64, f64)> = (0..4).filter_map(cross).collect();
            match crossed.len() {
                2 => out.push((crossed[0], crossed[1])),
                4 => {
                    let centre = v.iter().sum::<f64>() / 4.0 >= level;
                    // Corner k touches edges k − 1 and k: cut off each corner unlike the centre.
                    for k in (0..4).filter(|&k| above[k] != centre) {
                        out.push((cross((k + 3) % 4).expect("crossed"), cross(k).expect("crossed")));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Contour maps side by side on the same `levels` (one colour each, from dark to light as the
/// level rises), each level labelled at one of its segments; `note` below.
pub fn contour_figure(path: &Path, note: &str, maps: &[ContourMap], levels: &[f64]) -> Result<()> {
    let cols = maps.len().max(1);
    with_note(path, (900 * cols as u32, 900), note, |top| {
        for (area, m) in top.split_evenly((1, cols)).iter().zip(maps) {
            let (lo, hi) = (m.axis[0], m.axis[m.axis.len() - 1]);
            let mut chart = ChartBuilder::on(area)
                .caption(&m.title, (FONT, 28))
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(70)
                .build_cartesian_2d(lo..hi, lo..hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("α (first direction)")
                .y_desc("β (second direction)")
                .label_style((FONT, 20))
                .axis_desc_style((FONT, 22))
                .light_line_style(WHITE.mix(0.0))
                .draw()
                .map_err(err)?;
            for (k, &level) in levels.iter().enumerate() {
                let color = ramp(k as f64 / (levels.len().max(2) - 1) as f64);
                let segments = contour(&m.axis, &m.values, level);
                chart
                    .draw_series(
                        segments.iter().map(|&(a, b)| PathElement::new(vec![a, b], color.stroke_width(2))),
                    )
                    .map_err(err)?;
                // The label sits on the segment nearest the upper right, clear of the centre.
                if let Some(&(a, b)) = segments.iter().max_by(|s, t| {
                    let key = |s: &Segment| s.0.0 + s.0.1 + s.1.0 + s.1.1;
                    key(s).total_cmp(&key(t))
                }) {
                    let at = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                    let text = Text::new(format!("{level}"), at, (FONT, 18).into_font().color(&BLACK));
                    chart.draw_series(std::iter::once(text)).map_err(err)?;
                }
            }
            chart.draw_series(std::iter::once(Circle::new((0.0, 0.0), 5, BLACK.filled()))).map_err(err)?;
        }
        Ok(())
    })
}

/// A colour from dark blue (0) through green to yellow (1), as perceptual maps run.
fn ramp(t: f64) -> RGBColor {
    let stops = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let x = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let k = (x.floor() as usize).min(stops.len() - 2);
    let f = x - k as f64;
    let (a, b) = (stops[k], stops[k + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize, f: impl Fn(f64, f64) -> f64) -> (Vec<f64>, Vec<Vec<f64>>) {
        let axis: Vec<f64> = (0..n).map(|i| -1.0 + 2.0 * i as f64 / (n - 1) as f64).collect();
        let values = axis.iter().map(|&a| axis.iter().map(|&b| f(a, b)).collect()).collect();
        (axis, values)
    }

    /// The contour of a cone at r = 0.51: every segment end lies near the circle (linear
    /// interpolation along a cell edge of a curved surface), the segments close into a loop
    /// (every end shared by two segments), and a level outside the values draws nothing.
    #[test]
    fn marching_squares_traces_a_closed_circle() {
        let (axis, values) = grid(41, |a, b| (a * a + b * b).sqrt());
        // 0.51: no grid point lies on the level (a corner on it is shared by several cells).
        let seg = contour(&axis, &values, 0.51);
        assert!(seg.len() > 40, "{}", seg.len());
        for &(p, q) in &seg {
            for (x, y) in [p, q] {
                let r = (x * x + y * y).sqrt();
                assert!((r - 0.51).abs() < 0.01, "({x}, {y}) at r = {r}");
            }
        }
        let key = |p: (f64, f64)| ((p.0 * 1e9).round() as i64, (p.1 * 1e9).round() as i64);
        let mut ends = std::collections::BTreeMap::new();
        for &(p, q) in &seg {
            *ends.entry(key(p)).or_insert(0) += 1;
            *ends.entry(key(q)).or_insert(0) += 1;
        }
        assert!(ends.values().all(|&n| n == 2), "an open end: the loop is broken");
        assert!(contour(&axis, &values, 5.0).is_empty());
    }

    /// A straight level line of a plane, and a saddle cell cut by its centre value.
    #[test]
    fn marching_squares_on_a_plane_and_a_saddle() {
        let (axis, values) = grid(5, |a, _| a);
        let seg = contour(&axis, &values, 0.25);
        assert_eq!(seg.len(), 4);
        assert!(seg.iter().all(|&(p, q)| (p.0 - 0.25).abs() < 1e-12 && (q.0 - 0.25).abs() < 1e-12));
        // One cell, corners 1, 0, 1, 0 counter-clockwise: the centre (0.5) is above 0.4, so the
        // two low corners (1, 0) and (0, 1) are cut off, each by its own segment.
        let axis = vec![0.0, 1.0];
        let values = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let seg = contour(&axis, &values, 0.4);
        assert_eq!(seg.len(), 2);
        for &(p, q) in &seg {
            let mid = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
            let near_low = (mid.0 - 1.0).abs() + mid.1.abs() < 1.0 || mid.0.abs() + (mid.1 - 1.0).abs() < 1.0;
            assert!(near_low, "{p:?}–{q:?} does not cut off a low corner");
        }
    }

    #[test]
    fn lines_are_cut_at_both_bounds() {
        let pts = [(0.0, -1.0), (1.0, 1.0), (2.0, 3.0)];
        assert_eq!(within(&pts, 0.0, 2.0), vec![vec![(0.5, 0.0), (1.0, 1.0), (1.5, 2.0)]]);
    }
}
