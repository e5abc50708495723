//! `#import NAME` for WGSL, which has no include of its own (vello's preprocessor and
//! naga_oil do the same). A kernel under `shaders/` names the snippets of `shaders/shared/`
//! it uses; each is inserted once, where it is first imported, after its own imports.
//! `#kernel PATH` names the Rust declaration of a kernel in the file (the shader index
//! lists it). Both directives become blank lines. The line map lets an error in the
//! composed text point at the file and line it came from.
//!
//! Shared by `build.rs` and `tests/shaders.rs`, so the tests exercise the build's own code.

#![allow(dead_code)]

/// A kernel's WGSL with its imports inlined.
#[derive(Debug, Default)]
pub struct Composed {
    pub text: String,
    /// Snippets inserted, in order.
    pub imports: Vec<String>,
    /// `#kernel` lines of the root file.
    pub kernels: Vec<String>,
    /// For line `i` (0-based) of `text`: the file it came from and its 1-based line there.
    pub lines: Vec<(String, usize)>,
}

impl Composed {
    /// `file:line` of a 1-based line of the composed text.
    pub fn origin(&self, line: usize) -> String {
        match line.checked_sub(1).and_then(|i| self.lines.get(i)) {
            Some((file, l)) => format!("{file}:{l}"),
            None => format!("line {line} of the composed shader"),
        }
    }
}

/// Finds a snippet by name: its text and the path to report for it.
pub type Loader<'a> = &'a dyn Fn(&str) -> Result<(String, String), String>;

/// Composes `root` (named `root_name` in messages). `load(name)` returns the text of
/// snippet `name` and the path to report for it.
pub fn compose(root_name: &str, root: &str, load: Loader) -> Result<Composed, String> {
    let mut out = Composed::default();
    let mut stack = vec![root_name.to_string()];
    insert(root_name, root, true, load, &mut out, &mut stack)?;
    Ok(out)
}

fn insert(
    name: &str,
    text: &str,
    is_root: bool,
    load: Loader,
    out: &mut Composed,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("#import") {
            let snippet = rest.trim();
            if snippet.is_empty() || snippet.contains(char::is_whitespace) {
                return Err(format!(
                    "{name}:{}: `#import` takes one snippet name",
                    i + 1
                ));
            }
            if stack.iter().any(|s| s == snippet) {
                return Err(format!(
                    "{name}:{}: `#import {snippet}` is circular ({} -> {snippet})",
                    i + 1,
                    stack.join(" -> ")
                ));
            }
            out.text.push('\n');
            out.lines.push((name.to_string(), i + 1));
            if out.imports.iter().any(|s| s == snippet) {
                continue;
            }
            let (body, path) =
                load(snippet).map_err(|e| format!("{name}:{}: `#import {snippet}`: {e}", i + 1))?;
            out.imports.push(snippet.to_string());
            stack.push(snippet.to_string());
            insert(&path, &body, false, load, out, stack)?;
            stack.pop();
        } else if let Some(rest) = trimmed.strip_prefix("#kernel") {
            if !is_root {
                return Err(format!(
                    "{name}:{}: `#kernel` belongs in a kernel file",
                    i + 1
                ));
            }
            let path = rest.trim();
            if path.is_empty() || path.contains(char::is_whitespace) {
                return Err(format!(
                    "{name}:{}: `#kernel` takes one path (family::NAME)",
                    i + 1
                ));
            }
            out.kernels.push(path.to_string());
            out.text.push('\n');
            out.lines.push((name.to_string(), i + 1));
        } else if trimmed.starts_with('#') {
            return Err(format!(
                "{name}:{}: unknown directive `{trimmed}` (#import NAME or #kernel PATH)",
                i + 1
            ));
        } else {
            out.text.push_str(line);
            out.text.push('\n');
            out.lines.push((name.to_string(), i + 1));
        }
    }
    Ok(())
}
