//! Tests of the report module: PNG grids, metrics CSV, curves plot, report.md / report.html.
//!
//! The plot tests need a system font (Debian/Ubuntu: `fonts-dejavu-core`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flowgpu::data::DatasetName;
use flowgpu::judge::{JudgeFigures, JudgeInfo, JudgeTable, JudgedSet};
use flowgpu::report::discuss_judge;
use flowgpu::report::{
    base64_encode, discuss, discuss_temperature, grid_pixel_size, pixels_to_unit, plot_curves,
    read_metrics_csv, write_png, write_report, Figure, FigureSection, Grid, MetricKind, MetricRow,
    MetricsWriter, ReportInputs, SampleSaturation, METRICS_HEADER, PLOT_SIZE, SEPARATOR_GRAY,
};
use flowgpu::train::evaluate::Likelihood;

type TestResultT = std::result::Result<(), Box<dyn std::error::Error>>;

/// A fresh directory under the system temp dir, unique per process and call.
fn temp_dir(tag: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "flowgpu-report-{tag}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes a test directory, unless `FLOWGPU_KEEP_TEST_OUTPUT` is set (to look at the images).
fn cleanup(dir: &Path) {
    if std::env::var_os("FLOWGPU_KEEP_TEST_OUTPUT").is_some() {
        eprintln!("kept test output in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Decoded PNG: width, height, color type, bytes.
type Decoded = (u32, u32, png::ColorType, Vec<u8>);

fn decode_png(path: &Path) -> std::result::Result<Decoded, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path)?;
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Ok((info.width, info.height, info.color_type, buf))
}

fn row(kind: MetricKind, step: u64, epoch: f64, bpd: f64) -> MetricRow {
    MetricRow {
        kind,
        step,
        epoch,
        bits_per_dim: bpd,
        learning_rate: 1e-3,
        elapsed_s: step as f64 * 0.1,
    }
}

/// A 5-epoch run of 100 steps per epoch: huge first train_step values, validation best at
/// epoch 4 (1.40), flat after epoch 3 (1.42 -> 1.40 is 0.02, 1.40 -> 1.405 is worse).
fn known_metrics() -> Vec<MetricRow> {
    let train = [2.6, 1.75, 1.55, 1.47, 1.42];
    let valid = [1.90, 1.55, 1.42, 1.40, 1.405];
    let mut rows = Vec::new();
    // train_step: decreasing within each epoch around that epoch's mean, with a little
    // deterministic noise; the first two points are the huge start-of-training values.
    for i in 1..=50u64 {
        let step = i * 10;
        let epoch = step as f64 / 100.0;
        let k = (epoch.ceil() as usize).clamp(1, 5);
        let within = epoch - (k - 1) as f64; // (0, 1]
        let slope = if k == 1 { 1.2 } else { 0.15 };
        let bpd = if i <= 2 {
            8.0 - i as f64
        } else {
            train[k - 1] + slope * (0.55 - within) + 0.01 * (i as f64 * 1.7).sin()
        };
        rows.push(row(MetricKind::TrainStep, step, epoch, bpd));
    }
    for e in 1..=5usize {
        let step = e as u64 * 100;
        rows.push(row(MetricKind::TrainEpoch, step, e as f64, train[e - 1]));
        rows.push(row(MetricKind::Valid, step, e as f64, valid[e - 1]));
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Image grids

#[test]
fn grid_png_has_expected_size_and_pixels() -> TestResultT {
    let dir = temp_dir("grid")?;
    let (h, w, scale) = (4usize, 5usize, 2usize);
    // Image k: pixel (y, x) = (y * w + x) / (h * w - 1) * k / 3, so every pixel differs.
    let image = |k: usize| -> Vec<f32> {
        (0..h * w)
            .map(|i| i as f32 / (h * w - 1) as f32 * k as f32 / 3.0)
            .collect()
    };
    let mut grid = Grid::new(2, 3, h, w, scale).with_gap_after(0);
    grid.set(0, 0, image(3))?;
    grid.set(0, 1, image(1))?;
    grid.set(0, 2, image(2))?;
    // Out-of-range and NaN values are clamped / drawn black.
    let mut odd = vec![0.5f32; h * w];
    odd[0] = 1.7;
    odd[1] = -0.3;
    odd[2] = f32::NAN;
    grid.set(1, 0, odd)?;
    // (1, 1) stays empty.
    grid.set(1, 2, image(3))?;

    let path = dir.join("grid.png");
    write_png(&path, &grid)?;
    let (pw, ph, color, px) = decode_png(&path)?;
    let (ew, eh) = grid_pixel_size(&grid);
    assert_eq!(color, png::ColorType::Grayscale);
    assert_eq!((pw as usize, ph as usize), (ew, eh));
    let cw = w * scale;
    let ch = h * scale;
    assert_eq!(ew, 1 + 3 * (cw + 1) + grid.gap_px);
    assert_eq!(eh, 1 + 2 * (ch + 1));
    let at = |x: usize, y: usize| px[y * ew + x];

    // Border and separators.
    assert_eq!(at(0, 0), SEPARATOR_GRAY);
    assert_eq!(at(ew - 1, eh - 1), SEPARATOR_GRAY);
    assert_eq!(at(1 + cw, 1), SEPARATOR_GRAY, "separator after column 0");
    assert_eq!(at(1, 1 + ch), SEPARATOR_GRAY, "separator after row 0");
    // Cell (0,0): top-left pixel is 0 (black), bottom-right is 1 (white), upscaled 2x.
    assert_eq!(at(1, 1), 0);
    assert_eq!(at(2, 2), 0);
    assert_eq!(at(cw, ch), 255);
    assert_eq!(at(cw - 1, ch - 1), 255);
    // The gap band after column 0 is separator grey, then column 1 starts.
    for x in 1 + cw..1 + cw + 1 + grid.gap_px {
        assert_eq!(at(x, 3), SEPARATOR_GRAY, "gap band at x = {x}");
    }
    let x1 = 1 + (cw + 1) + grid.gap_px;
    assert_eq!(at(x1 - 1, 1), SEPARATOR_GRAY);
    // Cell (0,1) = image(1): last pixel is 1/3 -> 85.
    assert_eq!(at(x1 + cw - 1, ch), 85);
    // Cell (1,0): clamping and NaN.
    let y1 = 1 + ch + 1;
    assert_eq!(at(1, y1), 255);
    assert_eq!(at(1 + scale, y1), 0);
    assert_eq!(at(1 + 2 * scale, y1), 0);
    assert_eq!(at(1 + 3 * scale, y1), 128); // 0.5 -> 127.5 rounds to 128
                                            // Cell (1,1) is empty: separator grey throughout.
    assert_eq!(at(x1 + 3, y1 + 3), SEPARATOR_GRAY);
    // Cell (1,2) = image(3), read back through pixels_to_unit.
    let x2 = x1 + cw + 1;
    let cell: Vec<u8> = (0..h)
        .flat_map(|iy| (0..w).map(move |ix| (iy, ix)))
        .map(|(iy, ix)| at(x2 + ix * scale, y1 + iy * scale))
        .collect();
    for (got, want) in pixels_to_unit(&cell).iter().zip(image(3)) {
        assert!((got - want).abs() <= 0.5 / 255.0 + 1e-6, "{got} vs {want}");
    }

    // Deterministic: writing again gives identical bytes.
    let again = dir.join("again.png");
    write_png(&again, &grid)?;
    assert_eq!(std::fs::read(&path)?, std::fs::read(&again)?);
    cleanup(&dir);
    Ok(())
}

#[test]
fn grid_layer_and_interpolation_shapes() -> TestResultT {
    let dir = temp_dir("grid-shapes")?;
    // 10x5 layer-by-layer grid of 28x28 images at scale 2.
    let imgs: Vec<Vec<f32>> = (0..50).map(|k| vec![k as f32 / 49.0; 784]).collect();
    let layers = Grid::from_images(10, 5, 28, 28, 2, &imgs)?;
    let path = dir.join("layers.png");
    write_png(&path, &layers)?;
    let (w, h, _, px) = decode_png(&path)?;
    assert_eq!((w, h), (1 + 5 * 57, 1 + 10 * 57));
    // Last cell (9, 4) is all white.
    let (x, y) = flowgpu::report::cell_origin(&layers, 9, 4);
    assert_eq!(px[(y + 10) * w as usize + x + 10], 255);

    // Interpolation rows with both originals set apart by gaps.
    let mut interp = Grid::new(3, 10, 28, 28, 1)
        .with_gap_after(0)
        .with_gap_after(8);
    interp.gap_px = 3;
    for r in 0..3 {
        for c in 0..10 {
            interp.set(r, c, vec![c as f32 / 9.0; 784])?;
        }
    }
    let path = dir.join("interp.png");
    write_png(&path, &interp)?;
    let (w, h, _, px) = decode_png(&path)?;
    assert_eq!((w, h), (1 + 10 * 29 + 2 * 3, 1 + 3 * 29));
    let (x, y) = flowgpu::report::cell_origin(&interp, 0, 9);
    assert_eq!(x, 1 + 9 * 29 + 2 * 3);
    assert_eq!(px[y * w as usize + x], 255);
    assert_eq!(px[y * w as usize + x - 1], SEPARATOR_GRAY);
    cleanup(&dir);
    Ok(())
}

#[test]
fn grid_rejects_bad_shapes() {
    let mut g = Grid::new(2, 2, 3, 3, 1);
    assert!(g.set(0, 0, vec![0.0; 8]).is_err(), "wrong image length");
    assert!(g.set(2, 0, vec![0.0; 9]).is_err(), "row out of range");
    let g = Grid::new(2, 2, 3, 3, 1).with_gap_after(1);
    assert!(g.validate().is_err(), "gap after the last column");
    let g = Grid::new(2, 2, 3, 3, 0);
    assert!(g.validate().is_err(), "zero scale");
    assert!(Grid::from_images(1, 1, 1, 1, 1, &[vec![0.0], vec![1.0]]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Metrics CSV

#[test]
fn metrics_csv_round_trip_and_append() -> TestResultT {
    let dir = temp_dir("metrics")?;
    let path = dir.join("metrics.csv");
    let rows = known_metrics();
    {
        let mut w = MetricsWriter::create(&path)?;
        for r in &rows[..30] {
            w.write(r)?;
        }
    }
    {
        // A resumed run appends without repeating the header.
        let mut w = MetricsWriter::open_append(&path)?;
        for r in &rows[30..] {
            w.write(r)?;
        }
    }
    let text = std::fs::read_to_string(&path)?;
    assert!(text.starts_with(&format!("{METRICS_HEADER}\n")));
    assert_eq!(text.matches("kind,").count(), 1);
    assert!(
        text.contains("\ntrain_step,50,0.5,"),
        "fractional epoch: {text}"
    );
    assert_eq!(read_metrics_csv(&path)?, rows);

    // A torn last line (crash mid-write) is cut off on append.
    std::fs::write(&path, format!("{text}valid,600,6,1.3"))?;
    drop(MetricsWriter::open_append(&path)?);
    assert_eq!(read_metrics_csv(&path)?, rows);

    // Resuming from a checkpoint at step 300 drops the later rows.
    let mut w = MetricsWriter::resume_at(&path, 300)?;
    let extra = row(MetricKind::TrainStep, 310, 3.1, 1.5);
    w.write(&extra)?;
    let back = read_metrics_csv(&path)?;
    assert!(back[..back.len() - 1].iter().all(|r| r.step <= 300));
    assert_eq!(back.last(), Some(&extra));
    assert_eq!(
        back.len(),
        rows.iter().filter(|r| r.step <= 300).count() + 1
    );

    // Non-finite values survive the round trip.
    let nan_path = dir.join("nan.csv");
    let mut w = MetricsWriter::create(&nan_path)?;
    w.write(&row(MetricKind::TrainStep, 1, 0.01, f64::NAN))?;
    w.write(&row(MetricKind::TrainStep, 2, 0.02, f64::INFINITY))?;
    let back = read_metrics_csv(&nan_path)?;
    assert!(back[0].bits_per_dim.is_nan());
    assert_eq!(back[1].bits_per_dim, f64::INFINITY);
    cleanup(&dir);
    Ok(())
}

#[test]
fn metrics_csv_bad_rows_name_the_line() -> TestResultT {
    let dir = temp_dir("metrics-bad")?;
    let path = dir.join("bad.csv");
    let good = "train_step,10,0.1,2.5,0.001,1.0";
    let cases = [
        ("valid,abc,1,1.5,0.001,2.0", "step"),
        ("valid,10,1,1.5,0.001", "expected 6 fields"),
        ("test,10,1,1.5,0.001,2.0", "unknown kind"),
        ("valid,10,1,one,0.001,2.0", "bits_per_dim"),
    ];
    for (bad, what) in cases {
        std::fs::write(&path, format!("{METRICS_HEADER}\n{good}\n{bad}\n{good}\n"))?;
        let err = match read_metrics_csv(&path) {
            Ok(_) => panic!("bad row `{bad}` was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains(what), "{err}");
        assert!(err.contains("bad.csv"), "{err}");
    }
    std::fs::write(&path, "kind,step,epoch,bpd\n")?;
    let err = read_metrics_csv(&path).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("line 1") && e.contains("header")));
    // Appending to a file with a foreign header is refused rather than corrupting it.
    assert!(MetricsWriter::open_append(&path).is_err());
    cleanup(&dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Plot

#[test]
fn plot_from_metrics_csv_is_png_of_expected_size() -> TestResultT {
    let dir = temp_dir("plot")?;
    let csv = dir.join("metrics.csv");
    let mut w = MetricsWriter::create(&csv)?;
    for r in known_metrics() {
        w.write(&r)?;
    }
    drop(w);
    let rows = read_metrics_csv(&csv)?;
    let path = dir.join("curves.png");
    plot_curves(&rows, &path, "test run: bits/dim")?;
    let (w, h, color, px) = decode_png(&path)?;
    assert_eq!((w, h), PLOT_SIZE);
    assert_eq!(color, png::ColorType::Rgb);
    let pixel = |x: u32, y: u32| {
        let i = 3 * (y * w + x) as usize;
        [px[i], px[i + 1], px[i + 2]]
    };
    assert_eq!(pixel(0, 0), [255, 255, 255], "white background");
    let count = |c: [u8; 3]| px.chunks(3).filter(|p| *p == c).count();
    // Validation markers and the train epoch markers/lines are drawn in their colours.
    assert!(count([220, 90, 20]) > 100, "validation series missing");
    assert!(count([31, 90, 180]) > 100, "train epoch series missing");
    // Dark pixels: axes and text.
    assert!(px.chunks(3).filter(|p| p.iter().all(|&v| v < 60)).count() > 500);
    cleanup(&dir);
    Ok(())
}

#[test]
fn plot_y_range_ignores_early_outliers() {
    let rows = known_metrics();
    let (lo, hi) = flowgpu::report::plot::y_range(&rows).unwrap_or((0.0, 0.0));
    // The epoch-level points (1.40 ..= 2.6) are inside, the 7.0 / 6.0 start is not.
    assert!(lo < 1.40 && hi > 2.6 && hi < 5.0, "{lo}..{hi}");
    assert!(plot_curves(&[], &std::env::temp_dir().join("never.png"), "x").is_err());
}

// ---------------------------------------------------------------------------------------------
// Report document

/// The test likelihood the report tests use: 1.399 ± 0.004 bits/dim on 10000 images.
fn known_test() -> Likelihood {
    Likelihood {
        nats: 760.0,
        nats_se: 2.0,
        bits_per_dim: 1.399,
        bits_per_dim_se: 0.004,
        images: 10000,
        draws: 1,
    }
}

#[test]
fn discuss_names_best_epoch_flattening_gap_and_test() {
    let test = known_test();
    let s = discuss(&known_metrics(), Some(&test));
    let all = s.join(" ");
    assert!(all.contains("1.4000 bits/dim after epoch 4"), "{all}");
    assert!(all.contains("last epoch (5) reached 1.4050"), "{all}");
    // 1.55 -> 1.42 -> 1.40: improvement 0.02 then -0.005: flattens after epoch 4.
    assert!(all.contains("flattens after epoch 4"), "{all}");
    assert!(all.contains("At epoch 5"), "{all}");
    assert!(all.contains("-0.0150"), "gap 1.405 - 1.42: {all}");
    assert!(all.contains("10000 images"), "{all}");
    assert!(all.contains("within two standard errors"), "{all}");

    let none = discuss(&[], None).join(" ");
    assert!(none.contains("No validation"), "{none}");
}

fn inputs_with(figures: Vec<Figure>) -> ReportInputs {
    let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    ReportInputs {
        run_name: "nice-test <1>".into(),
        model: kv(&[("coupling", "additive"), ("layers", "4 | 1000 hidden")]),
        data: kv(&[
            ("dataset", "MNIST"),
            ("dequantization", "uniform"),
            ("split", "50000 / 10000 / 10000"),
        ]),
        training: kv(&[("epochs", "5"), ("batch", "128"), ("lr", "1e-3")]),
        hardware: "NVIDIA H200 (Vulkan, DiscreteGpu)".into(),
        wall_time_s: 3723.0,
        test: Some(known_test()),
        metrics: known_metrics(),
        figures,
        samples: vec![],
        judge: None,
        notebook: None,
    }
}

#[test]
fn report_lists_and_embeds_every_figure() -> TestResultT {
    let dir = temp_dir("doc")?;
    plot_curves(&known_metrics(), &dir.join("curves.png"), "curves")?;
    let imgs: Vec<Vec<f32>> = (0..4).map(|k| vec![k as f32 / 3.0; 16]).collect();
    let grid = Grid::from_images(2, 2, 4, 4, 2, &imgs)?;
    std::fs::create_dir_all(dir.join("figs"))?;
    for f in [
        "samples_t1.0.png",
        "samples_t0.7.png",
        "figs/layers.png",
        "interp.png",
    ] {
        write_png(&dir.join(f), &grid)?;
    }
    let fig = |file: &str, title: &str, caption: &str, section| Figure {
        file: file.into(),
        title: title.into(),
        caption: caption.into(),
        section,
    };
    let figures = vec![
        fig(
            "samples_t1.0.png",
            "Samples",
            "64 samples at temperature T = 1.0",
            FigureSection::Samples,
        ),
        fig(
            "curves.png",
            "Curves",
            "Train and validation bits/dim",
            FigureSection::Curves,
        ),
        fig(
            "samples_t0.7.png",
            "Samples (T = 0.7)",
            "64 samples at temperature T = 0.7.",
            FigureSection::Samples,
        ),
        fig(
            "figs/layers.png",
            "Layer by layer",
            "10 test images through the flow",
            FigureSection::Layers,
        ),
        fig(
            "interp.png",
            "Interpolations",
            "Latent interpolations between test pairs",
            FigureSection::Interpolations,
        ),
    ];
    let written = write_report(&dir, &inputs_with(figures.clone()))?;
    assert_eq!(
        written,
        vec![
            dir.join("report.md"),
            dir.join("report.html"),
            dir.join("report.ipynb")
        ]
    );
    // The notebook embeds every figure as an attachment of the cell that shows it.
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.ipynb"))?)?;
    assert_eq!(nb["nbformat"], 4);
    let cells = nb["cells"].as_array().expect("cells");
    for f in &figures {
        let cell = cells
            .iter()
            .find(|c| c["attachments"].get(&f.file).is_some())
            .unwrap_or_else(|| panic!("{} is attached", f.file));
        let text: String = cell["source"]
            .as_array()
            .expect("lines")
            .iter()
            .filter_map(|l| l.as_str())
            .collect();
        assert!(
            text.contains(&format!("](attachment:{})", f.file)),
            "{text}"
        );
        assert!(cell["attachments"][&f.file]["image/png"].is_string());
    }
    assert!(cells.iter().any(|c| c["cell_type"] == "code"));
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    for f in &figures {
        assert!(dir.join(&f.file).is_file());
        assert!(
            md.contains(&format!("]({})", f.file)),
            "md lacks {}",
            f.file
        );
        let uri = format!(
            "data:image/png;base64,{}",
            base64_encode(&std::fs::read(dir.join(&f.file))?)
        );
        assert!(html.contains(&uri), "html lacks the data URI of {}", f.file);
        assert!(md.contains(&f.caption.trim_end_matches('.').to_string()));
    }
    for needle in [
        "## What was done",
        "## Test log-likelihood",
        "## Training curves",
        "## Samples",
        "## Layer by layer",
        "## Interpolations",
        "## Discussion",
        "T = 0.7",
        "1.3990",
        "760.000",
        "NVIDIA H200",
        "1 h 02 min 03 s",
        "4 \\| 1000 hidden",
        "after epoch 4",
    ] {
        assert!(md.contains(needle), "md lacks `{needle}`:\n{md}");
    }
    assert!(html.contains("<h2>Discussion</h2>"));
    assert!(html.contains("nice-test &lt;1&gt;"), "escaped run name");
    assert!(!html.contains("nice-test <1>"));
    // Figures are numbered in document order: curves first, then samples.
    assert!(md.contains("*Figure 1: Curves*"), "{md}");
    assert!(md.contains("*Figure 2: Samples*"), "{md}");

    // A missing figure is an error naming the file.
    let mut missing = figures;
    missing.push(fig("nope.png", "Ghost", "not there", FigureSection::Other));
    let err = write_report(&dir, &inputs_with(missing))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("nope.png"), "{err}");
    let abs = vec![fig("/etc/passwd", "x", "y", FigureSection::Other)];
    assert!(write_report(&dir, &inputs_with(abs)).is_err());
    cleanup(&dir);
    Ok(())
}

#[test]
fn report_without_test_or_figures_still_renders() -> TestResultT {
    let dir = temp_dir("doc-min")?;
    let mut inputs = inputs_with(Vec::new());
    inputs.test = None;
    inputs.metrics.clear();
    write_report(&dir, &inputs)?;
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    assert!(md.contains("not evaluated"));
    assert!(md.contains("(not produced in this run)"));
    cleanup(&dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Discussion wording follows the numbers

/// Epoch-level rows only: one train epoch mean and one validation value per epoch.
fn epochs(train: &[f64], valid: &[f64]) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    for (e, t) in train.iter().enumerate() {
        rows.push(row(
            MetricKind::TrainEpoch,
            100 * (e as u64 + 1),
            e as f64 + 1.0,
            *t,
        ));
    }
    for (e, v) in valid.iter().enumerate() {
        rows.push(row(
            MetricKind::Valid,
            100 * (e as u64 + 1),
            e as f64 + 1.0,
            *v,
        ));
    }
    rows
}

fn discussion(train: &[f64], valid: &[f64], test: Option<&Likelihood>) -> String {
    discuss(&epochs(train, valid), test).join(" ")
}

#[test]
fn discussion_of_a_run_still_improving() {
    // Validation falls by >= 0.07 each epoch and ends 0.05 above a still-falling train mean.
    let all = discussion(&[2.0, 1.8, 1.6, 1.5], &[1.9, 1.75, 1.62, 1.55], None);
    assert!(all.contains("final model is also the best one"), "{all}");
    assert!(all.contains("has not flattened"), "{all}");
    assert!(all.contains("the last by 0.0700"), "{all}");
    assert!(all.contains("a gap of +0.0500"), "{all}");
    assert!(all.contains("validation is worse than train"), "{all}");
    assert!(
        all.contains("fell 0.1000 bits/dim from the epoch before"),
        "{all}"
    );
    assert!(all.contains("if anything, larger"), "{all}");
    assert!(all.contains("no sign of overfitting"), "{all}");
    assert!(!all.contains("pattern of overfitting"), "{all}");
    assert!(all.contains("not evaluated"), "{all}");
}

#[test]
fn discussion_of_an_overfitting_run() {
    // Validation best at epoch 2, then up by 0.05 and 0.07 while train keeps falling.
    let all = discussion(&[2.0, 1.6, 1.4, 1.3], &[1.8, 1.6, 1.65, 1.72], None);
    assert!(all.contains("1.6000 bits/dim after epoch 2"), "{all}");
    assert!(all.contains("0.1200 bits/dim higher"), "{all}");
    assert!(
        all.contains("checkpoint from epoch 2 is the better model"),
        "{all}"
    );
    assert!(all.contains("flattens after epoch 2"), "{all}");
    assert!(all.contains("made it worse by 0.0500"), "{all}");
    assert!(all.contains("rose by 0.1200 bits/dim in total"), "{all}");
    assert!(all.contains("validation is worse than train"), "{all}");
    assert!(
        all.contains("risen 0.1200 bits/dim since its best (epoch 2)"),
        "{all}"
    );
    assert!(all.contains("train mean fell 0.3000"), "{all}");
    assert!(all.contains("pattern of overfitting"), "{all}");
    assert!(!all.contains("no sign of overfitting"), "{all}");
    assert!(!all.contains("improved it by"), "{all}");
}

#[test]
fn discussion_of_a_plateau() {
    // Validation 1.5 twice (the earlier counts as best), train mean flat at 1.6.
    let all = discussion(&[1.8, 1.6, 1.6], &[1.7, 1.5, 1.5], None);
    assert!(all.contains("after epoch 2"), "{all}");
    assert!(all.contains("as good as the best one"), "{all}");
    assert!(!all.contains("better model"), "{all}");
    assert!(all.contains("left it about the same (+0.0000"), "{all}");
    assert!(all.contains("a gap of -0.1000"), "{all}");
    assert!(
        all.contains("validation is better than the train epoch mean"),
        "{all}"
    );
    assert!(all.contains("train mean has stopped falling"), "{all}");
    assert!(
        !all.contains("as expected while the model still improves"),
        "{all}"
    );
    assert!(all.contains("no sign of overfitting"), "{all}");
}

#[test]
fn discussion_separates_rising_validation_from_overfitting() {
    // Validation rises from its best but the train mean rises too: not overfitting.
    let all = discussion(&[1.8, 1.6, 1.65], &[1.7, 1.55, 1.6], None);
    assert!(
        all.contains("risen 0.0500 bits/dim since its best (epoch 2)"),
        "{all}"
    );
    assert!(
        all.contains("did not fall over the same epochs either"),
        "{all}"
    );
    assert!(!all.contains("pattern of overfitting"), "{all}");

    // Validation below a train mean that is still falling fast: expected, and said so.
    let all = discussion(&[2.0, 1.7], &[1.6, 1.5], None);
    assert!(all.contains("has not flattened"), "{all}");
    assert!(
        all.contains("validation is better than the train epoch mean"),
        "{all}"
    );
    assert!(
        all.contains("as expected while the model still improves"),
        "{all}"
    );
    assert!(
        all.contains("fell 0.3000 bits/dim from the epoch before"),
        "{all}"
    );

    // A pause, then progress again: the total after the pause is an improvement.
    let all = discussion(&[2.0, 1.95, 1.8], &[1.9, 1.895, 1.7], None);
    assert!(all.contains("flattens after epoch 1"), "{all}");
    assert!(all.contains("improved it by only 0.0050"), "{all}");
    assert!(
        all.contains("improved by 0.2000 bits/dim in total"),
        "{all}"
    );

    // Close agreement.
    let all = discussion(&[1.8, 1.6], &[1.7, 1.59], None);
    assert!(all.contains("train and validation agree closely"), "{all}");
}

#[test]
fn discussion_places_test_above_below_or_level_with_validation() {
    let metrics = known_metrics(); // final validation 1.4050 at epoch 5
    let with = |bpd: f64| {
        let t = Likelihood {
            bits_per_dim: bpd,
            ..known_test()
        };
        discuss(&metrics, Some(&t)).join(" ")
    };
    let below = with(1.399);
    assert!(
        below.contains("0.0060 bits/dim below the final validation value"),
        "{below}"
    );
    assert!(below.contains("within two standard errors"), "{below}");
    let above = with(1.420);
    assert!(
        above.contains("0.0150 bits/dim above the final validation value"),
        "{above}"
    );
    assert!(above.contains("beyond two standard errors"), "{above}");
    let level = with(1.4053);
    assert!(
        level.contains("about the same as the final validation value"),
        "{level}"
    );
    assert!(level.contains("within two standard errors"), "{level}");
    let single = discuss(
        &metrics,
        Some(&Likelihood {
            bits_per_dim_se: f64::NAN,
            images: 1,
            ..known_test()
        }),
    )
    .join(" ");
    assert!(single.contains("cannot be judged"), "{single}");
}

#[test]
fn temperature_sentence_follows_the_shares() {
    let at = |temperature: f32, share: f64| SampleSaturation { temperature, share };
    // The reported bug: 90% -> 89% was written as "raises".
    let lower = discuss_temperature(&[at(1.0, 0.90), at(0.7, 0.89)]).unwrap_or_default();
    assert!(
        lower.contains("Lowering the temperature from 1.0 to 0.7 lowers"),
        "{lower}"
    );
    assert!(lower.contains("from 90.0% to 89.0%"), "{lower}");
    assert!(lower.contains("less clean"), "{lower}");
    assert!(!lower.contains("raises"), "{lower}");

    // Given in either order, the warmer temperature is the starting point.
    let raise = discuss_temperature(&[at(0.7, 0.90), at(1.0, 0.80)]).unwrap_or_default();
    assert!(raise.contains("from 1.0 to 0.7 raises"), "{raise}");
    assert!(raise.contains("from 80.0% to 90.0%"), "{raise}");
    assert!(raise.contains("colder samples are cleaner"), "{raise}");

    let same = discuss_temperature(&[at(1.0, 0.900), at(0.7, 0.903)]).unwrap_or_default();
    assert!(same.contains("leaves"), "{same}");
    assert!(same.contains("about the same (90.0% and 90.3%)"), "{same}");
    assert!(
        !same.contains("raises") && !same.contains("lowers"),
        "{same}"
    );

    assert_eq!(discuss_temperature(&[at(1.0, 0.9)]), None);
    assert_eq!(discuss_temperature(&[]), None);
}

#[test]
fn report_discussion_does_not_repeat_captions() -> TestResultT {
    let dir = temp_dir("doc-captions")?;
    let imgs: Vec<Vec<f32>> = (0..4).map(|k| vec![k as f32 / 3.0; 16]).collect();
    let grid = Grid::from_images(2, 2, 4, 4, 2, &imgs)?;
    let mut figures = Vec::new();
    for (file, caption) in [
        (
            "samples_t1.0.png",
            "x = f^-1(z), z ~ N(0, 1.0^2 I), seed 7.",
        ),
        (
            "samples_t0.7.png",
            "x = f^-1(z), z ~ N(0, 0.7^2 I), seed 7.",
        ),
    ] {
        write_png(&dir.join(file), &grid)?;
        figures.push(Figure {
            file: file.into(),
            title: format!("Samples {file}"),
            caption: caption.into(),
            section: FigureSection::Samples,
        });
    }
    let mut inputs = inputs_with(figures.clone());
    inputs.samples = vec![
        SampleSaturation {
            temperature: 1.0,
            share: 0.90,
        },
        SampleSaturation {
            temperature: 0.7,
            share: 0.89,
        },
    ];
    write_report(&dir, &inputs)?;
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    let html = std::fs::read_to_string(dir.join("report.html"))?;
    for f in &figures {
        let caption = f.caption.trim_end_matches('.');
        assert_eq!(md.matches(caption).count(), 1, "caption repeated:\n{md}");
        assert_eq!(
            html.matches(caption).count(),
            1,
            "caption repeated:\n{html}"
        );
    }
    let discussion = md
        .split("## Discussion")
        .nth(1)
        .ok_or("no discussion section")?;
    assert!(!discussion.contains("Figure 1"), "{discussion}");
    assert!(
        discussion.contains("from 1.0 to 0.7 lowers the share"),
        "{discussion}"
    );
    cleanup(&dir);
    Ok(())
}

fn judged(label: &str, temperature: Option<f32>, digit_like: f64) -> JudgedSet {
    JudgedSet {
        label: label.into(),
        temperature,
        figures: JudgeFigures {
            images: 1000,
            digit_like,
            histogram: [100; 10],
            not_digit: 0,
            class_entropy_bits: 3.32,
            frechet: 12.5,
        },
    }
}

fn judge_section(cold: f64) -> JudgeTable {
    JudgeTable {
        judge: JudgeInfo {
            dataset: DatasetName::Mnist,
            version: 1,
            widths: vec![784, 512, 256, 10],
            test_accuracy: 0.986,
            test_digit_like: 0.96,
            epochs: 10,
            train_seconds: 116.0,
            adapter: "test".into(),
        },
        cache: "data/mnist/judge-v1.safetensors".into(),
        sets: vec![
            judged("real test images (1000)", None, 0.959),
            judged("untrained flow, T = 1.0", Some(1.0), 0.0),
            judged("samples, T = 1.0", Some(1.0), 0.55),
            judged("samples, T = 0.7", Some(0.7), cold),
        ],
    }
}

#[test]
fn report_carries_the_judge_table_and_its_sentences_follow_the_figures() -> TestResultT {
    let dir = temp_dir("judge")?;
    let mut inputs = inputs_with(vec![]);
    inputs.judge = Some(Ok(judge_section(0.45)));
    write_report(&dir, &inputs)?;
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    assert!(md.contains("| samples, T = 0.7 | 45.0% | 0.0% |"), "{md}");
    assert!(
        md.contains("| real test images (1000) | 95.9% | 0.0% |"),
        "{md}"
    );
    assert!(md.contains("98.60% of the test set"), "{md}");
    assert!(md.contains("calls 55.0% of 1000 samples at T = 1.0 digit-like (real test images: 95.9%; an untrained flow's samples: 0.0%)"), "{md}");
    assert!(
        md.contains(
            "At T = 0.7 it is 45.0%: fewer of them are digit-like, so colder is worse here."
        ),
        "{md}"
    );
    let up = discuss_judge(&judge_section(0.62)).expect("a sentence");
    assert!(
        up.contains("more of them are digit-like, so colder is better"),
        "{up}"
    );
    let same = discuss_judge(&judge_section(0.56)).expect("a sentence");
    assert!(same.contains("about as many"), "{same}");

    inputs.judge = Some(Err("no MNIST in data/mnist".into()));
    write_report(&dir, &inputs)?;
    let md = std::fs::read_to_string(dir.join("report.md"))?;
    assert!(
        md.contains("The sample judge could not run: no MNIST in data/mnist."),
        "{md}"
    );
    Ok(())
}
