//! A PNG of the training curves: the loss by step (left) and one metric by step (right), train
//! and eval.

use crate::metrics::Record;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

/// DejaVu Sans Mono (free licence, see `assets/DejaVu-LICENSE.txt`), embedded so plots render the
/// same on every machine without system fonts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
static REGISTER: Once = Once::new();

/// Errors from drawing the plot.
#[derive(Debug, thiserror::Error)]
#[error("plotting {path}: {message}")]
pub struct PlotError {
    /// The output file.
    pub path: String,
    /// What failed.
    pub message: String,
}

/// Draws `records` (as written by [`MetricsLog`](crate::MetricsLog)) to a 1200x480 PNG at `path`:
/// the loss on the left, the metric `metric` (e.g. `"accuracy"`, a task's [`best`]) on the right.
///
/// [`best`]: crate::Task::best
///
/// # Example
/// ```
/// use duet_train::{plot_curves, Record};
/// let rec = |step, split: &str, loss, accuracy| Record { step, epoch: 0, split: split.into(), loss,
///     images_per_s: 0.0, lr: 0.1, metrics: [("accuracy".to_string(), accuracy)].into() };
/// let records = vec![rec(1, "train", 2.3, 0.1), rec(2, "train", 1.0, 0.6), rec(2, "eval", 0.9, 0.7)];
/// let path = std::env::temp_dir().join(format!("duet-plot-doc-{}.png", std::process::id()));
/// plot_curves(&records, "accuracy", &path).unwrap();
/// assert!(std::fs::metadata(&path).unwrap().len() > 1000);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn plot_curves(records: &[Record], metric: &str, path: &Path) -> Result<(), PlotError> {
    REGISTER.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
    let err = |e: &dyn std::fmt::Display| PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let series = |split: &str, f: &dyn Fn(&Record) -> Option<f64>| -> Vec<(f64, f64)> {
        let points = records.iter().filter(|r| r.split == split);
        let points = points.filter_map(|r| Some((r.step as f64, f(r)?)));
        points.filter(|p| p.1.is_finite()).collect()
    };
    let loss = series("train", &|r| Some(r.loss));
    let eval_loss = series("eval", &|r| Some(r.loss));
    let acc = series("train", &|r| r.metric(metric));
    let eval_acc = series("eval", &|r| r.metric(metric));
    let metric_max = acc
        .iter()
        .chain(&eval_acc)
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    // A fraction (accuracy) keeps the [0, 1] axis.
    let metric_max = if metric_max <= 1.0 {
        1.0
    } else {
        metric_max * 1.05
    };
    let root = BitMapBackend::new(path, (1200, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(600);
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let max_loss = loss
        .iter()
        .chain(&eval_loss)
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.05;
    type Line<'a> = (&'a Vec<(f64, f64)>, RGBColor, &'a str);
    let panels: [(&DrawingArea<_, _>, &str, f64, [Line<'_>; 2]); 2] = [
        (
            &left,
            "loss",
            max_loss,
            [(&loss, BLUE, "train"), (&eval_loss, RED, "eval")],
        ),
        (
            &right,
            metric,
            metric_max,
            [(&acc, BLUE, "train"), (&eval_acc, RED, "eval")],
        ),
    ];
    for (area, title, y_max, lines) in panels {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..max_step, 0.0..y_max)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .draw()
            .map_err(|e| err(&e))?;
        for (points, color, label) in lines {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
