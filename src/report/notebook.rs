//! `report.ipynb`: the report as a Jupyter notebook a student can hand in (nbformat 4, opens
//! in Jupyter and Colab): one Markdown cell per section of the same document, its figures
//! embedded as cell attachments, then code cells (`notebook_code.py`, plain Python and
//! NumPy) that load `best.safetensors`, rebuild the flow from its tensor names, recompute
//! the test bits/dim of a few hundred images and check it against flowgpu's own figure, and
//! draw a grid of samples.

use std::path::Path;

use serde_json::{json, Value};

use super::document::Block;
use super::html::base64_encode;
use super::markdown::render_markdown;
use crate::error::{Error, Result};

/// The code cells' template, one cell per `# %%` line.
const CODE: &str = include_str!("notebook_code.py");

/// What the code cells recompute, and flowgpu's figure to compare with.
#[derive(Clone, Debug, PartialEq)]
pub struct NotebookCheck {
    /// The checkpoint, relative to the notebook (or absolute).
    pub checkpoint: String,
    /// The folder with the IDX test images.
    pub data_dir: String,
    /// How many of the first test images.
    pub images: usize,
    /// flowgpu's bits/dim of those images at the bin centres, if computed.
    pub bits_per_dim: Option<f64>,
}

/// Lines as nbformat stores them: each but the last keeps its newline.
fn source(text: &str) -> Value {
    let lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    json!(lines)
}

/// A Python literal for a string (JSON's escapes are valid Python).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "''".into())
}

/// The code cells with `check`'s values in place of the template's placeholders.
pub fn code_cells(check: &NotebookCheck) -> Vec<String> {
    let filled = CODE
        .replace("{{CHECKPOINT}}", &py_str(&check.checkpoint))
        .replace("{{DATA_DIR}}", &py_str(&check.data_dir))
        .replace("{{IMAGES}}", &check.images.to_string())
        .replace(
            "{{FLOWGPU_BITS_PER_DIM}}",
            &check
                .bits_per_dim
                .map_or("None".to_string(), |b| format!("{b:.9}")),
        );
    filled
        .split("# %%")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| format!("# {c}\n"))
        .collect()
}

/// The notebook's JSON: the document's sections, then the code cells.
pub(crate) fn render_notebook(
    blocks: &[Block],
    run_dir: &Path,
    check: &NotebookCheck,
) -> Result<String> {
    let mut cells = Vec::new();
    let mut sections: Vec<Vec<&Block>> = Vec::new();
    for b in blocks {
        if matches!(b, Block::Heading(level, _) if *level <= 2) || sections.is_empty() {
            sections.push(Vec::new());
        }
        sections.last_mut().expect("pushed above").push(b);
    }
    for section in sections {
        let owned: Vec<Block> = section.iter().map(|b| (*b).clone()).collect();
        let mut text = render_markdown(&owned);
        let mut attachments = serde_json::Map::new();
        for b in &section {
            if let Block::Figure(_, fig) = b {
                let path = fig.path_in(run_dir)?;
                let bytes = std::fs::read(&path)
                    .map_err(|e| Error::Report(format!("cannot embed {}: {e}", path.display())))?;
                text = text.replace(
                    &format!("]({})", fig.file),
                    &format!("](attachment:{})", fig.file),
                );
                attachments.insert(
                    fig.file.clone(),
                    json!({ "image/png": base64_encode(&bytes) }),
                );
            }
        }
        let mut cell = json!({
            "cell_type": "markdown",
            "metadata": {},
            "source": source(text.trim_end()),
        });
        if !attachments.is_empty() {
            cell["attachments"] = Value::Object(attachments);
        }
        cells.push(cell);
    }
    cells.push(json!({
        "cell_type": "markdown",
        "metadata": {},
        "source": source(
            "## Recompute it yourself\n\nThe cells below need only Python and NumPy \
             (matplotlib to show the grid). They read the run's `best.safetensors`, rebuild \
             the flow from its tensor names, recompute the test bits/dim of the first test \
             images and compare it with flowgpu's own figure, then draw samples."
        ),
    }));
    for code in code_cells(check) {
        cells.push(json!({
            "cell_type": "code",
            "execution_count": null,
            "metadata": {},
            "outputs": [],
            "source": source(code.trim_end()),
        }));
    }
    let nb = json!({
        "cells": cells,
        "metadata": {
            "kernelspec": { "display_name": "Python 3", "language": "python", "name": "python3" },
            "language_info": { "name": "python" },
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    });
    serde_json::to_string_pretty(&nb).map_err(|e| Error::Report(e.to_string()))
}
