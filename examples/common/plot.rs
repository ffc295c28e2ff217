//! The examples' charts, drawn with plotters into an SVG document and a PNG image of the same
//! layout: a title, axes with their labels, the series, and a legend in a strip below the plot
//! (so it never covers the data).
//!
//! No system font library is used: plotters' `ab_glyph` renderer draws with DejaVu Sans from
//! the `dejavu` crate, registered once as `sans-serif`. The PNG is drawn into an RGB buffer and
//! encoded with the `png` crate. Nothing here touches a file: the callers write the bytes (the
//! trainer through its atomic write).
//!
//! Shared by `examples/trainer.rs` (through `examples/trainer/job.rs`),
//! `examples/hypertune.rs` and `examples/supervised_baseline.rs`, so not every item is used by
//! each.
#![allow(dead_code)]

use std::error::Error;
use std::ops::Range;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont, point};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontTransform, register_font};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

/// Errors of drawing or encoding a chart.
pub type PlotError = Box<dyn Error + Send + Sync>;

/// Size of every chart, in pixels (the SVG's user units).
pub const WIDTH: u32 = 960;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 540;

/// The font family the charts name (DejaVu Sans, registered by [`register_fonts`]).
const FAMILY: &str = "sans-serif";
const TITLE_SIZE: f64 = 22.0;
const AXIS_LABEL_SIZE: f64 = 17.0;
const TICK_SIZE: f64 = 14.0;
const LEGEND_SIZE: f64 = 15.0;
/// Width of the strip left of the tick labels that holds the rotated y-axis label.
const Y_LABEL_STRIP: u32 = 30;
/// Height of one row of the legend.
const LEGEND_ROW: u32 = 26;
/// Width of a legend entry's sample of its mark, and the gaps around entries.
const LEGEND_SAMPLE: i32 = 28;
const LEGEND_GAP: i32 = 26;
const MARGIN: u32 = 12;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A polyline through the points, `width` pixels wide.
    Line { width: u32 },
    /// A dashed polyline through the points.
    Dashed { width: u32 },
    /// A filled circle at every point.
    Dots { radius: u32 },
    /// A bar from the bottom of the y range up to `y` for every point `(x, y)`, spanning
    /// `[x, x + width]` in data units.
    Bars { width: f64 },
}

/// One series of a chart, with its legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// RGB colour.
    pub color: (u8, u8, u8),
    /// How it is drawn.
    pub mark: Mark,
    /// `(x, y)` in data units.
    pub points: Vec<(f64, f64)>,
}

/// A chart on two linear axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The caption above the plot.
    pub title: String,
    /// Below the x axis.
    pub x_label: String,
    /// Left of the y axis, rotated.
    pub y_label: String,
    /// The axes' ranges, in data units.
    pub x_range: Range<f64>,
    /// See [`Chart::x_range`].
    pub y_range: Range<f64>,
    /// Drawn in order, the first at the bottom; the legend lists them in the same order.
    pub series: Vec<Series>,
}

/// Registers DejaVu Sans as the charts' font, once per process.
fn register_fonts() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok { Ok(()) } else { Err("the DejaVu Sans font could not be read".into()) }
}

impl Chart {
    /// The chart as an SVG document.
    ///
    /// # Errors
    /// An empty or non-finite axis range, or an error of plotters.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        self.check()?;
        register_fonts()?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    /// The chart as a PNG image, [`WIDTH`] x [`HEIGHT`], 8-bit RGB.
    ///
    /// # Errors
    /// An empty or non-finite axis range, or an error of plotters or of the PNG encoder.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        self.check()?;
        register_fonts()?;
        let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = Canvas::new(&mut pixels)?.into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, WIDTH, HEIGHT);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
        Ok(png)
    }

    fn check(&self) -> Result<(), PlotError> {
        for (axis, r) in [("x", &self.x_range), ("y", &self.y_range)] {
            if !(r.start.is_finite() && r.end.is_finite() && r.start < r.end) {
                return Err(format!("the chart's {axis} range {r:?} is empty or not finite").into());
            }
        }
        Ok(())
    }

    /// Legend rows: the entries' indices, laid out left to right within `width` pixels.
    fn legend_rows<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        width: i32,
    ) -> Result<Vec<Vec<(usize, i32)>>, PlotError> {
        let font = (FAMILY, LEGEND_SIZE).into_text_style(area);
        let mut rows: Vec<Vec<(usize, i32)>> = vec![Vec::new()];
        let mut x = 0;
        for (i, s) in self.series.iter().enumerate() {
            let (text_w, _) =
                area.estimate_text_size(&s.label, &font).map_err(|e| e.to_string())?;
            let entry = LEGEND_SAMPLE + 8 + text_w as i32;
            if x > 0 && x + entry > width {
                rows.push(Vec::new());
                x = 0;
            }
            rows.last_mut().expect("a row").push((i, entry));
            x += entry + LEGEND_GAP;
        }
        Ok(rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| -> PlotError { e.to_string().into() };
        root.fill(&WHITE).map_err(err)?;
        let area = root.margin(MARGIN, MARGIN, MARGIN, MARGIN + 8);
        let (w, h) = area.dim_in_pixel();
        let rows = self.legend_rows(&area, w as i32)?;
        let legend_h = LEGEND_ROW * rows.len() as u32 + 6;
        let (upper, legend) = area.split_vertically(h - legend_h);
        let (y_strip, plot) = upper.split_horizontally(Y_LABEL_STRIP);

        let mut chart = ChartBuilder::on(&plot)
            .caption(&self.title, (FAMILY, TITLE_SIZE).into_font().style(FontStyle::Bold))
            .margin_top(6)
            .x_label_area_size(52)
            .y_label_area_size(58)
            .build_cartesian_2d(self.x_range.clone(), self.y_range.clone())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .axis_desc_style((FAMILY, AXIS_LABEL_SIZE))
            .label_style((FAMILY, TICK_SIZE))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(214, 214, 214))
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw()
            .map_err(err)?;

        let y_bottom = self.y_range.start;
        for s in &self.series {
            let color = RGBColor(s.color.0, s.color.1, s.color.2);
            let points = s.points.iter().copied();
            match s.mark {
                Mark::Line { width } => {
                    chart
                        .draw_series(LineSeries::new(points, color.stroke_width(width)))
                        .map_err(err)?;
                }
                Mark::Dashed { width } => {
                    chart
                        .draw_series(DashedLineSeries::new(
                            points,
                            10,
                            6,
                            color.stroke_width(width),
                        ))
                        .map_err(err)?;
                }
                Mark::Dots { radius } => {
                    chart
                        .draw_series(points.map(|p| Circle::new(p, radius, color.filled())))
                        .map_err(err)?;
                }
                Mark::Bars { width } => {
                    chart
                        .draw_series(points.map(|(x, y)| {
                            Rectangle::new([(x, y_bottom), (x + width, y)], color.filled())
                        }))
                        .map_err(err)?;
                }
            }
        }
        // The frame of the plotting area, over the series.
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let frame = Rectangle::new([(xs.start, ys.start), (xs.end, ys.end)], BLACK.stroke_width(1));
        root.draw(&frame).map_err(err)?;

        // The y-axis label, rotated, centred on the plotting area.
        let y_mid = (ys.start + ys.end) / 2 - y_strip.get_base_pixel().1;
        let style = (FAMILY, AXIS_LABEL_SIZE)
            .into_font()
            .transform(FontTransform::Rotate270)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        y_strip.draw_text(&self.y_label, &style, (Y_LABEL_STRIP as i32 / 2, y_mid)).map_err(err)?;

        // The legend, centred below the plot.
        let font = (FAMILY, LEGEND_SIZE).into_font().color(&BLACK);
        for (r, row) in rows.iter().enumerate() {
            let row_w: i32 =
                row.iter().map(|(_, e)| e).sum::<i32>() + LEGEND_GAP * (row.len() as i32 - 1);
            let mut x = (w as i32 - row_w).max(0) / 2;
            let y = 6 + LEGEND_ROW as i32 * r as i32 + LEGEND_ROW as i32 / 2;
            for &(i, entry) in row {
                let s = &self.series[i];
                let color = RGBColor(s.color.0, s.color.1, s.color.2);
                let (x0, x1) = (x, x + LEGEND_SAMPLE);
                match s.mark {
                    Mark::Line { width } => legend
                        .draw(&PathElement::new([(x0, y), (x1, y)], color.stroke_width(width)))
                        .map_err(err)?,
                    Mark::Dashed { width } => {
                        for (a, b) in [(x0, x0 + 10), (x0 + 16, x1)] {
                            legend
                                .draw(&PathElement::new(
                                    [(a, y), (b, y)],
                                    color.stroke_width(width),
                                ))
                                .map_err(err)?;
                        }
                    }
                    Mark::Dots { radius } => legend
                        .draw(&Circle::new(((x0 + x1) / 2, y), radius as i32, color.filled()))
                        .map_err(err)?,
                    Mark::Bars { .. } => legend
                        .draw(&Rectangle::new([(x0 + 4, y - 8), (x1 - 4, y + 8)], color.filled()))
                        .map_err(err)?,
                }
                let text = font.pos(Pos::new(HPos::Left, VPos::Center));
                legend.draw_text(&s.label, &text, (x1 + 8, y)).map_err(err)?;
                x += entry + LEGEND_GAP;
            }
        }
        Ok(())
    }
}

/// plotters' bitmap backend with its text drawn here, by ab_glyph, each glyph at its own pixel
/// bounds: plotters 0.3.7 places every glyph at its advance origin and ignores its left side
/// bearing, which spaces letters unevenly ("evalu ation"). Layout (the text's box, anchors,
/// rotation, the baseline at half the font size below the box's top) is plotters', so the PNG
/// and the SVG are laid out alike.
struct Canvas<'a> {
    inner: BitMapBackend<'a>,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

type CanvasError = DrawingErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

impl<'a> Canvas<'a> {
    fn new(pixels: &'a mut [u8]) -> Result<Self, PlotError> {
        let font = |bytes| FontRef::try_from_slice(bytes).map_err(|e| format!("DejaVu Sans: {e}"));
        Ok(Self {
            inner: BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)),
            regular: font(dejavu::sans::regular())?,
            bold: font(dejavu::sans::bold())?,
        })
    }
}

impl DrawingBackend for Canvas<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), CanvasError> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), CanvasError> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), CanvasError> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), CanvasError> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), CanvasError> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), CanvasError> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), CanvasError> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) =
            style.layout_box(text).map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let font = match style.style() {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        };
        let font = font.as_scaled(style.size() as f32);
        let baseline = style.size() as f32 / 2.0;
        let mut coverage = Vec::new();
        let (mut caret, mut previous) = (0.0f32, None);
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                caret += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(font.scale(), point(caret, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
                outline.draw(|x, y, c| coverage.push((x0 + x as i32, y0 + y as i32, c)));
            }
            caret += font.h_advance(id);
            previous = Some(id);
        }
        let transform = style.transform();
        let (w, h) = self.get_size();
        for (x, y, c) in coverage {
            let (x, y) = transform.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if c > 0.0 && x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                let alpha = color.alpha * f64::from(c.min(1.0));
                self.inner.draw_pixel((x, y), BackendColor { alpha, rgb: color.rgb })?;
            }
        }
        Ok(())
    }
}

/// A tick label: integers without a fraction, others with up to 3 significant decimals.
fn tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The share of `values` in each of `bins` equal bins over `range`, in percent; a value outside
/// the range counts in the nearest end bin. Returns `(bin start, share)` for every bin.
pub fn histogram(values: &[f32], range: Range<f64>, bins: usize) -> Vec<(f64, f64)> {
    let bins = bins.max(1);
    let width = (range.end - range.start) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let i = ((f64::from(v) - range.start) / width).floor();
        let i = if i.is_nan() { 0 } else { i.clamp(0.0, (bins - 1) as f64) as usize };
        counts[i] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (range.start + width * i as f64, 100.0 * c as f64 / n))
        .collect()
}
