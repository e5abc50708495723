//! `report.html`: the document's blocks as one self-contained HTML file. Every figure is
//! embedded as a base64 `data:` URI, so the file can be mailed or archived on its own.

use std::fmt::Write as _;
use std::path::Path;

use super::document::Block;
use super::text::sentence;
use crate::error::{Error, Result};

/// Standard base64 (RFC 4648, with padding), for `data:` URIs.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// MIME type for a figure file, from its extension.
fn mime_type(file: &str) -> &'static str {
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const HTML_STYLE: &str =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;\
line-height:1.45;color:#222}table{border-collapse:collapse;margin:0.5em 0 1em}\
td,th{border:1px solid #bbb;padding:0.25em 0.6em;text-align:left}th{background:#f0f0f0}\
figure{margin:1em 0}figure img{max-width:100%;image-rendering:pixelated}\
figcaption{font-size:0.92em;color:#444;margin-top:0.3em}";

/// Renders the blocks as one HTML page titled after the run, reading each figure from
/// `run_dir` to embed it.
pub(crate) fn render_html(blocks: &[Block], run_name: &str, run_dir: &Path) -> Result<String> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Run report: {}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n",
        html_escape(run_name)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_escape(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", html_escape(text));
            }
            Block::Table(header, rows) => {
                out.push_str("<table>\n<tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", html_escape(h));
                }
                out.push_str("</tr>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in r {
                        let _ = write!(out, "<td>{}</td>", html_escape(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Figure(n, fig) => {
                let path = fig.path_in(run_dir)?;
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let _ = writeln!(
                    out,
                    "<figure>\n<img src=\"data:{};base64,{}\" alt=\"{}\">\n\
                     <figcaption><strong>Figure {n}: {}</strong> {}</figcaption>\n</figure>",
                    mime_type(&fig.file),
                    base64_encode(&bytes),
                    html_escape(&fig.title),
                    html_escape(fig.title.trim()),
                    html_escape(&sentence(&fig.caption))
                );
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn escapes_markup_and_knows_png() {
        assert_eq!(html_escape("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
        assert_eq!(mime_type("x/Samples.PNG"), "image/png");
        assert_eq!(mime_type("noext"), "application/octet-stream");
    }
}
