//! The examples' charts (`examples/common/plot.rs`): one chart drawn as an SVG and a PNG of the
//! same size with every series in it, the histogram's shares, and charts that cannot be drawn
//! refused with an error.

#[path = "../examples/common/plot.rs"]
mod plot;

#[path = "common/plot_files.rs"]
mod plot_files;

use plot::{Chart, Mark, Series};

fn chart() -> Chart {
    let series =
        |label: &str, color, mark, points| Series { label: label.into(), color, mark, points };
    Chart {
        title: "a title".into(),
        x_label: "the x axis".into(),
        y_label: "the y axis".into(),
        x_range: 0.0..10.0,
        y_range: -5.0..5.0,
        series: vec![
            series("bars", (200, 40, 40), Mark::Bars { width: 0.8 }, vec![(1.0, 4.0), (2.0, 2.0)]),
            series(
                "a line",
                (40, 200, 40),
                Mark::Line { width: 2 },
                vec![(0.0, -4.0), (10.0, 4.0)],
            ),
            series(
                "dashes",
                (40, 40, 200),
                Mark::Dashed { width: 2 },
                vec![(0.0, 1.0), (10.0, 1.0)],
            ),
            series("dots", (200, 120, 0), Mark::Dots { radius: 4 }, vec![(5.0, -2.0), (7.0, 3.0)]),
        ],
    }
}

#[test]
fn a_chart_is_drawn_alike_as_svg_and_png() {
    let chart = chart();
    plot_files::check_svg(
        &chart.to_svg().unwrap(),
        &["a title", "the x axis", "the y axis", "bars", "a line", "dashes", "dots", "rotate("],
    );
    let (width, height, pixels) = plot_files::decode_png(&chart.to_png().unwrap());
    assert_eq!((width, height), (plot::WIDTH, plot::HEIGHT));
    for s in &chart.series {
        assert!(plot_files::count_colour(&pixels, s.color) > 10, "{} is not drawn", s.label);
    }
    // Text is drawn: dark pixels outside the plot's series (title, labels, ticks, legend).
    let dark = pixels.chunks_exact(3).filter(|p| p.iter().all(|&c| c < 100)).count();
    assert!(dark > 2000, "only {dark} dark pixels");
    // Drawing is deterministic.
    assert!(chart.to_png().unwrap() == chart.to_png().unwrap());
}

#[test]
fn a_chart_that_cannot_be_drawn_is_an_error() {
    for (x, y) in [(0.0..0.0, 0.0..1.0), (0.0..1.0, 1.0..0.0), (0.0..f64::NAN, 0.0..1.0)] {
        let chart = Chart { x_range: x.clone(), y_range: y.clone(), ..chart() };
        let err = chart.to_png().unwrap_err().to_string();
        assert!(err.contains("range"), "{x:?} {y:?}: {err}");
        assert!(chart.to_svg().is_err());
    }
}

#[test]
fn a_histogram_gives_the_share_of_each_bin() {
    let values = [0.0, 5.0, -3.0, 10.0, 199.0, 200.0, 250.0, 12.5];
    let bins = plot::histogram(&values, 0.0..200.0, 20);
    assert_eq!(bins.len(), 20);
    assert_eq!(bins[0], (0.0, 37.5)); // 0, 5 and -3 (below the range, in the first bin)
    assert_eq!(bins[1], (10.0, 25.0)); // 10, 12.5
    assert_eq!(bins[19], (190.0, 37.5)); // 199, 200 (the range's end) and 250
    assert!(bins[2..19].iter().all(|b| b.1 == 0.0));
    let total: f64 = bins.iter().map(|b| b.1).sum();
    assert!((total - 100.0).abs() < 1e-9);
    assert!(plot::histogram(&[], 0.0..1.0, 4).iter().all(|b| b.1 == 0.0));
}
