//! The paper's figures as PNG, drawn with plotters and an embedded font (DejaVu Sans, see
//! assets/LICENSE_DEJAVU): the machines this runs on may have no fonts at all. Only this module
//! knows plotters; it draws what `report` hands it.

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

pub mod explain;

const FONT: &str = "sans-serif";
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(0, 0, 0),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../assets/DejaVuSans.ttf"))
            .unwrap_or_else(|_| panic!("the embedded font is a valid TTF"));
    });
}

/// The legend as every figure here draws it: a white box with a black border.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
    size: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, size))
        .draw()
        .map_err(err)
}

/// One net's curves: errors in percent against iterations in units of 1e4.
#[derive(Debug, Clone)]
pub struct ErrorCurves {
    pub label: String,
    pub train: Vec<(f64, f64)>,
    pub test: Vec<(f64, f64)>,
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

fn x_max(curves: &[ErrorCurves]) -> f64 {
    let m = curves.iter().flat_map(|c| c.train.iter().chain(&c.test)).map(|p| p.0).fold(0.0, f64::max);
    if m > 0.0 { m * 1.02 } else { 1.0 }
}

/// One panel: dashed training error and bold test error per net, one colour per net.
fn error_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    curves: &[ErrorCurves],
    y_max: f64,
    which: Which,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 30))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max(curves), 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("iterations (1e4)")
        .y_desc("error (%)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 22))
        .axis_desc_style((FONT, 24))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let (dashed, bold) = (color.stroke_width(2), color.stroke_width(4));
        // The legend entry comes from an empty series so that a net is listed even when all of
        // its curve lies above the axis.
        let legend = if which == Which::Train { dashed } else { bold };
        chart
            .draw_series(LineSeries::new(Vec::new(), legend))
            .map_err(err)?
            .label(c.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], legend));
        if which != Which::Test {
            for piece in below(&c.train, y_max) {
                chart.draw_series(DashedLineSeries::new(piece, 10, 6, dashed)).map_err(err)?;
            }
        }
        if which != Which::Train {
            for piece in below(&c.test, y_max) {
                chart.draw_series(LineSeries::new(piece, bold)).map_err(err)?;
            }
        }
    }
    // Errors fall from the top left: the lower left corner is where no curve goes.
    legend(&mut chart, SeriesLabelPosition::LowerLeft, 22)?;
    Ok(())
}

/// The parts of a curve at or below `y_max`, each starting or ending where the curve crosses it:
/// a curve above the paper's 20% axis then enters the panel from its top edge where it really
/// falls below 20%, instead of lying flat along the edge as if the error had been 20%.
fn below(pts: &[(f64, f64)], y_max: f64) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for (k, &(x, y)) in pts.iter().enumerate() {
        let crossing = |(x0, y0): (f64, f64)| (x0 + (x - x0) * (y_max - y0) / (y - y0), y_max);
        if y <= y_max {
            if !open {
                let mut piece = Vec::new();
                if k > 0 {
                    piece.push(crossing(pts[k - 1]));
                }
                pieces.push(piece);
                open = true;
            }
            pieces.last_mut().expect("a piece is open").push((x, y));
        } else if open {
            pieces.last_mut().expect("a piece is open").push(crossing(pts[k - 1]));
            open = false;
        }
    }
    pieces
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Which {
    Train,
    Test,
    Both,
}

/// Fig. 6 style: training (dashed) and test (bold) error of several nets in one panel.
pub fn error_figure(path: &Path, title: &str, note: &str, curves: &[ErrorCurves], y_max: f64) -> Result<()> {
    with_note(path, (1800, 840), note, |top| error_panel(top, title, curves, y_max, Which::Both))
}

/// A white figure of `size` plus a 60-pixel line of `note` below it, drawn by `draw`.
fn with_note(
    path: &Path,
    (width, height): (u32, u32),
    note: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (width, height + 60)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(height);
    draw(&top)?;
    bottom.draw_text(note, &(FONT, 22).into_text_style(&bottom), (40, 10)).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Fig. 1 style: training error (left) and test error (right) of the same nets.
pub fn train_test_figure(
    path: &Path,
    title: &str,
    note: &str,
    curves: &[ErrorCurves],
    y_max: f64,
) -> Result<()> {
    with_note(path, (1800, 740), note, |top| {
        let (left, right) = top.split_horizontally(900);
        error_panel(&left, &format!("{title}: training error"), curves, y_max, Which::Train)?;
        error_panel(&right, &format!("{title}: test error"), curves, y_max, Which::Test)
    })
}

/// Fig. 6 style panels, two a row with one title each and one y axis: e.g. a net a panel, with
/// two sweeps' curves of it in each (same colour order in every panel).
pub fn panels_figure(
    path: &Path,
    note: &str,
    panels: &[(String, Vec<ErrorCurves>)],
    y_max: f64,
) -> Result<()> {
    let rows = panels.len().div_ceil(2).max(1);
    with_note(path, (1800, 700 * rows as u32), note, |top| {
        for (area, (title, curves)) in top.split_evenly((rows, 2)).iter().zip(panels) {
            error_panel(area, title, curves, y_max, Which::Both)?;
        }
        Ok(())
    })
}

/// Fig. 7: the std of each 3x3 layer's response by layer index (top) and sorted (bottom).
pub fn responses_figure(path: &Path, lines: &[(String, Vec<f64>)]) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1800, 1400)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(700);
    let longest = lines.iter().map(|l| l.1.len()).max().unwrap_or(1) as f64;
    let y_max = lines.iter().flat_map(|l| l.1.iter().copied()).fold(0.0, f64::max) * 1.1;
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    for (area, sorted) in [(&top, false), (&bottom, true)] {
        let title = if sorted {
            "std of layer responses, sorted in descending order"
        } else {
            "std of layer responses by layer index"
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..longest + 1.0, 0.0..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(if sorted { "rank" } else { "layer index (3x3 convs, network order)" })
            .y_desc("std")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 24))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for (i, (label, stds)) in lines.iter().enumerate() {
            let mut v = stds.clone();
            if sorted {
                v.sort_by(|a, b| b.total_cmp(a));
            }
            let style = COLORS[i % COLORS.len()].stroke_width(3);
            chart
                .draw_series(LineSeries::new(v.iter().enumerate().map(|(k, &s)| ((k + 1) as f64, s)), style))
                .map_err(err)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], style));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 22)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// One panel of the gradient figure: a depth's twins, each a line per point of training.
#[derive(Debug, Clone)]
pub struct GradientPanel {
    pub title: String,
    /// (net, point of training, per-layer values); a point keeps its colour across nets, the
    /// residual twin is dashed.
    pub lines: Vec<(String, String, bool, Vec<f64>)>,
}

/// The loss gradient at each 3x3 layer's output against the layer index (Fig. 7's x axis), on a
/// log scale, a panel per depth.
pub fn gradients_figure(path: &Path, panels: &[GradientPanel], note: &str) -> Result<()> {
    register_font();
    let height = 640 * panels.len() as u32 + 60;
    let root = BitMapBackend::new(path, (1800, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (charts, bottom) = root.split_vertically(height - 60);
    let values = || panels.iter().flat_map(|p| p.lines.iter().flat_map(|l| l.3.iter().copied()));
    let lo = values().filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let hi = values().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo / 2.0, hi * 2.0) } else { (1e-3, 1.0) };
    for (area, panel) in charts.split_evenly((panels.len(), 1)).iter().zip(panels) {
        let longest = panel.lines.iter().map(|l| l.3.len()).max().unwrap_or(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(0.0..longest + 1.0, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("layer index (3x3 convs, network order)")
            .y_desc("gradient norm per image (log)")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 24))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        let mut points: Vec<&str> = Vec::new();
        for (net, point, dashed, values) in &panel.lines {
            let k = points.iter().position(|p| p == point).unwrap_or_else(|| {
                points.push(point);
                points.len() - 1
            });
            let style = COLORS[k % COLORS.len()].stroke_width(3);
            let xy: Vec<(f64, f64)> = values.iter().enumerate().map(|(l, &v)| ((l + 1) as f64, v)).collect();
            let anno = if *dashed {
                chart.draw_series(DashedLineSeries::new(xy, 10, 6, style))
            } else {
                chart.draw_series(LineSeries::new(xy, style))
            };
            // A short stroke stands for a dashed line in the legend, a long one for a solid line.
            let width = if *dashed { 12 } else { 30 };
            anno.map_err(err)?
                .label(format!("{net}, {point}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + width, y)], style));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 20)?;
    }
    bottom.draw_text(note, &(FONT, 22).into_text_style(&bottom), (40, 10)).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::below;

    #[test]
    fn a_curve_above_the_axis_enters_it_where_it_crosses() {
        // 30 -> 10 crosses 20 halfway between x = 1 and x = 2.
        let pts = [(0.0, 40.0), (1.0, 30.0), (2.0, 10.0), (3.0, 5.0)];
        assert_eq!(below(&pts, 20.0), vec![vec![(1.5, 20.0), (2.0, 10.0), (3.0, 5.0)]]);
        // Out and back in: two pieces, each cut at its crossing; all above: nothing drawn.
        let pts = [(0.0, 10.0), (1.0, 30.0), (2.0, 10.0)];
        assert_eq!(below(&pts, 20.0), vec![vec![(0.0, 10.0), (0.5, 20.0)], vec![(1.5, 20.0), (2.0, 10.0)]]);
        assert!(below(&[(0.0, 50.0), (1.0, 25.0)], 20.0).is_empty());
        assert_eq!(below(&[(0.0, 20.0), (1.0, 15.0)], 20.0), vec![vec![(0.0, 20.0), (1.0, 15.0)]]);
    }
}
