//! The exercise's figures from a (random, untrained) flow: the 10 x 5 layer grid's last
//! column is exactly what `Flow::sample` returns for the same z, interpolation end points
//! reconstruct the originals, and every PNG decodes to the size its grid promises.

mod common;

use std::path::PathBuf;

use common::context;
use flowgpu::config::FlowConfig;
use flowgpu::config::Preprocess;
use flowgpu::data::ImageSet;
use flowgpu::report::figures::{interpolation_grid, layers_grid, pairs_by_label, sample_grid};
use flowgpu::report::image_grid::{grid_pixel_size, Grid};
use flowgpu::{Flow, FlowParams};

fn out(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-figures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn png_size(path: &PathBuf) -> (usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("png written"),
    ));
    let reader = decoder.read_info().expect("a valid PNG");
    let info = reader.info();
    (info.width as usize, info.height as usize)
}

fn flow() -> Flow {
    let cfg = FlowConfig {
        hidden: 16,
        ..FlowConfig::default()
    };
    Flow::new(context(), &FlowParams::random(&cfg, 4, 0.5)).expect("flow")
}

const PRE: Preprocess = Preprocess {
    logit_alpha: Some(1e-6),
};

#[test]
fn layer_grid_last_column_is_the_sample() {
    let flow = flow();
    let path = out("layers.png");
    let (rows, seed) = (10, 21);
    let stages = layers_grid(&flow, PRE, rows, seed, 1, &path).expect("layers figure");
    assert_eq!(stages.stages.len(), 5, "z and the outputs of 4 layers");
    assert_eq!(stages.cells.len(), rows);
    assert!(stages.cells.iter().all(|r| r.len() == 5));
    let sample = flow
        .context()
        .read(&flow.sample(rows, 1.0, seed).expect("sample"))
        .expect("read");
    assert_eq!(
        stages.stages[4], sample,
        "the last column is Flow::sample for the same z, bit for bit"
    );
    let z = flow
        .context()
        .read(&flow.sample_latent(rows, 1.0, seed).expect("z"))
        .expect("read");
    assert_eq!(stages.stages[0], z, "the first column is z");
    assert_eq!(
        png_size(&path),
        grid_pixel_size(&Grid::new(rows, 5, 28, 28, 1))
    );
}

#[test]
fn interpolation_end_points_reconstruct_the_originals() {
    let flow = flow();
    // Ten synthetic "test images", labels 0..9.
    let images: Vec<u8> = (0..10 * 784)
        .map(|i| ((i * 7919 + i / 784 * 31) % 256) as u8)
        .collect();
    let test = ImageSet {
        images,
        labels: (0..10).collect(),
        rows: 28,
        cols: 28,
    };
    let pairs = pairs_by_label(&test, &[(3, 8), (1, 7), (4, 9)]).expect("labels exist");
    assert_eq!(pairs, vec![(3, 8), (1, 7), (4, 9)]);
    let path = out("interp.png");
    let steps = 10;
    let interp =
        interpolation_grid(&flow, PRE, &test, &pairs, steps, 2, &path).expect("interpolation");
    for (p, (x1, x2)) in interp.originals.iter().enumerate() {
        let first = &interp.decoded[p][0];
        let last = &interp.decoded[p][steps - 1];
        let err = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(u, v)| (u - v).abs())
                .fold(0.0f32, f32::max)
        };
        // Logit-space values reach +-14; f32 round trips through 4 layers stay within 1e-3.
        assert!(
            err(first, x1) < 1e-3,
            "pair {p}: first point vs x1: {}",
            err(first, x1)
        );
        assert!(
            err(last, x2) < 1e-3,
            "pair {p}: last point vs x2: {}",
            err(last, x2)
        );
    }
    let grid = Grid::new(3, steps + 2, 28, 28, 2)
        .with_gap_after(0)
        .with_gap_after(steps);
    assert_eq!(png_size(&path), grid_pixel_size(&grid));
}

#[test]
fn sample_grids_are_deterministic_pngs() {
    let flow = flow();
    let (a, b) = (out("s1.png"), out("s2.png"));
    let x = sample_grid(&flow, PRE, 8, 8, 0.7, 5, 3, &a).expect("samples");
    let y = sample_grid(&flow, PRE, 8, 8, 0.7, 5, 3, &b).expect("samples");
    assert_eq!(x, y);
    assert_eq!(
        std::fs::read(&a).expect("png"),
        std::fs::read(&b).expect("png"),
        "same seed, same file"
    );
    assert_eq!(png_size(&a), grid_pixel_size(&Grid::new(8, 8, 28, 28, 3)));
    assert!(x.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
}
