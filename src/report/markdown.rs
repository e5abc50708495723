//! `report.md`: the document's blocks as Markdown. Figures are linked, not embedded, so the
//! file is read next to the PNGs in the run directory.

use std::fmt::Write as _;

use super::document::Block;
use super::text::sentence;

/// Markdown text: `<` is escaped so that names like `run <1>` are not taken for HTML tags.
fn md_text(s: &str) -> String {
    s.replace('<', "\\<")
}

/// A Markdown table cell: text plus escaped pipes, on one line.
fn md_cell(s: &str) -> String {
    md_text(s).replace('|', "\\|").replace('\n', " ")
}

/// A link target, in angle brackets when the file name would otherwise end the link early.
fn md_link_target(file: &str) -> String {
    if file.contains([' ', '(', ')', '<', '>']) {
        format!("<{}>", file.replace('<', "%3C").replace('>', "%3E"))
    } else {
        file.to_string()
    }
}

/// Renders the blocks as one Markdown document.
pub(crate) fn render_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(
                    out,
                    "{} {}\n",
                    "#".repeat(usize::from(*level)),
                    md_text(text)
                );
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{}\n", md_text(text));
            }
            Block::Table(header, rows) => {
                let row = |cells: &[String]| {
                    let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
                    format!("| {} |", cells.join(" | "))
                };
                let _ = writeln!(out, "{}", row(header));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for r in rows {
                    let _ = writeln!(out, "{}", row(r));
                }
                out.push('\n');
            }
            Block::Figure(n, fig) => {
                let _ = writeln!(
                    out,
                    "![{}]({})\n\n*Figure {n}: {}* {}\n",
                    md_cell(&fig.title),
                    md_link_target(&fig.file),
                    md_text(fig.title.trim()),
                    md_text(&sentence(&fig.caption))
                );
            }
        }
    }
    out
}
