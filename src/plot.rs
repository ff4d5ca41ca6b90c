//! The paper's figures as PNG, drawn with plotters and an embedded font (DejaVu Sans, see
//! assets/LICENSE_DEJAVU): the machines this runs on may have no fonts at all. Only this module
//! knows plotters; it draws what `report` hands it.

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

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
    let clip = |pts: &[(f64, f64)]| pts.iter().map(|&(x, y)| (x, y.min(y_max))).collect::<Vec<_>>();
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if which != Which::Test {
            let style = color.stroke_width(2);
            let anno = chart.draw_series(DashedLineSeries::new(clip(&c.train), 10, 6, style)).map_err(err)?;
            if which == Which::Train {
                anno.label(c.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], style));
            }
        }
        if which != Which::Train {
            let style = color.stroke_width(4);
            let anno = chart.draw_series(LineSeries::new(clip(&c.test), style)).map_err(err)?;
            anno.label(c.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], style));
        }
    }
    // Errors fall from the top left: the lower left corner is where no curve goes.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 22))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Which {
    Train,
    Test,
    Both,
}

/// Fig. 6 style: training (dashed) and test (bold) error of several nets in one panel.
pub fn error_figure(path: &Path, title: &str, note: &str, curves: &[ErrorCurves], y_max: f64) -> Result<()> {
    register_font();
    let root = BitMapBackend::new(path, (1800, 900)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(840);
    error_panel(&top, title, curves, y_max, Which::Both)?;
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
    register_font();
    let root = BitMapBackend::new(path, (1800, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(740);
    let (left, right) = top.split_horizontally(900);
    error_panel(&left, &format!("{title}: training error"), curves, y_max, Which::Train)?;
    error_panel(&right, &format!("{title}: test error"), curves, y_max, Which::Test)?;
    bottom.draw_text(note, &(FONT, 22).into_text_style(&bottom), (40, 10)).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 22))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
