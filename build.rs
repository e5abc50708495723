//! Compiles `shaders/` into one shader index (vello's `vello_shaders` does the same):
//!
//! 1. every kernel file `shaders/*.wgsl` has its `#import`s of `shaders/shared/*.wgsl`
//!    inlined (`build/wgsl_import.rs`); the subgroup matmuls are generated from the block
//!    table in `src/kernels/matmul/subgroup_blocks.rs` (`build/subgroup_matmul.rs`);
//! 2. naga parses, validates and reflects each composed module (`build/reflect.rs`): a
//!    shader that does not validate fails the build with its file and line;
//! 3. `$OUT_DIR/shader_index.rs` gets one `Shader` constant per module (its composed source
//!    and interface), the list of every kernel declaration (from the `#kernel` lines), and
//!    compile-time checks that each declaration agrees with its shader
//!    (`gpu::kernel::check_declaration`). `src/kernels/shaders.rs` includes it.

#[path = "build/reflect.rs"]
mod reflect;
#[path = "src/kernels/matmul/subgroup_blocks.rs"]
#[allow(dead_code)]
mod subgroup_blocks;
#[path = "build/subgroup_matmul.rs"]
mod subgroup_matmul;
#[path = "build/wgsl_import.rs"]
mod wgsl_import;

use std::fmt::Write;
use std::path::{Path, PathBuf};

struct Module {
    /// File stem: `coupling_forward`, `matmul_nn_sg_64x4`.
    name: String,
    generated: bool,
    composed: wgsl_import::Composed,
    iface: reflect::Interface,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn wgsl_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn run() -> Result<(), String> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let shaders = root.join("shaders");
    let shared = shaders.join("shared");
    println!("cargo:rerun-if-changed=shaders");
    println!("cargo:rerun-if-changed=shaders/shared");
    println!("cargo:rerun-if-changed=build");
    println!("cargo:rerun-if-changed=src/kernels/matmul/subgroup_blocks.rs");

    // Every snippet, read once: (name, text).
    let mut snippets = Vec::new();
    for f in wgsl_files(&shared)? {
        println!("cargo:rerun-if-changed={}", f.display());
        snippets.push((stem(&f), read(&f)?));
    }
    let load = |name: &str| -> Result<(String, String), String> {
        match snippets.iter().find(|(n, _)| n == name) {
            Some((_, text)) => Ok((text.clone(), format!("shaders/shared/{name}.wgsl"))),
            None => {
                let known: Vec<&str> = snippets.iter().map(|(n, _)| n.as_str()).collect();
                Err(format!(
                    "no shaders/shared/{name}.wgsl (snippets: {})",
                    known.join(", ")
                ))
            }
        }
    };

    let mut sources = Vec::new();
    for f in wgsl_files(&shaders)? {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = stem(&f);
        sources.push((
            name.clone(),
            false,
            format!("shaders/{name}.wgsl"),
            read(&f)?,
        ));
    }
    for block in subgroup_blocks::SUBGROUP_BLOCKS {
        let name = block.name();
        if sources.iter().any(|(n, ..)| *n == name) {
            return Err(format!(
                "shaders/{name}.wgsl has the name of a generated subgroup matmul"
            ));
        }
        let text = subgroup_matmul::generate(block)?;
        sources.push((name.clone(), true, format!("generated {name}.wgsl"), text));
    }

    let wgsl_out = out.join("wgsl");
    std::fs::create_dir_all(&wgsl_out).map_err(|e| e.to_string())?;
    let mut modules = Vec::new();
    let mut errors = Vec::new();
    for (name, generated, label, text) in sources {
        let composed = match wgsl_import::compose(&label, &text, &load) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if composed.kernels.is_empty() {
            errors.push(format!(
                "{label}: no `#kernel family::NAME` line names the Rust declaration of its kernel"
            ));
            continue;
        }
        let iface = match reflect::reflect(&composed) {
            Ok(i) => i,
            Err(e) => {
                errors.push(format!("{label} does not validate: {e}"));
                continue;
            }
        };
        std::fs::write(wgsl_out.join(format!("{name}.wgsl")), &composed.text)
            .map_err(|e| e.to_string())?;
        modules.push(Module {
            name,
            generated,
            composed,
            iface,
        });
    }
    for (s, _) in &snippets {
        if !modules.iter().any(|m| m.composed.imports.contains(s)) {
            errors.push(format!("shaders/shared/{s}.wgsl is imported by no kernel"));
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n\n"));
    }
    let index = index(&modules, &snippets);
    std::fs::write(out.join("shader_index.rs"), index).map_err(|e| e.to_string())?;
    // The generated kernels' declarations, one per block, in the table's order.
    let mut generated = String::from("// @generated by build.rs: do not edit.\ngenerated! {\n");
    for (i, block) in subgroup_blocks::SUBGROUP_BLOCKS.iter().enumerate() {
        let _ = writeln!(generated, "    {i} => {},", const_name(&block.name()));
    }
    generated.push_str("}\n");
    std::fs::write(out.join("subgroup_kernels.rs"), generated).map_err(|e| e.to_string())?;
    Ok(())
}

fn const_name(name: &str) -> String {
    name.to_uppercase()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("&[{}]", quoted.join(", "))
}

/// The index: Rust source, included by `src/kernels/shaders.rs`.
fn index(modules: &[Module], snippets: &[(String, String)]) -> String {
    let mut s = String::new();
    s.push_str("// @generated by build.rs from shaders/: do not edit.\n\n");
    for m in modules {
        let i = &m.iface;
        let _ = writeln!(
            s,
            "/// `{}.wgsl`{}.",
            m.name,
            if m.generated { " (generated)" } else { "" }
        );
        let _ = writeln!(s, "pub const {}: Shader = Shader {{", const_name(&m.name));
        let _ = writeln!(s, "    name: {:?},", m.name);
        let _ = writeln!(s, "    file: \"{}.wgsl\",", m.name);
        let _ = writeln!(s, "    generated: {},", m.generated);
        let _ = writeln!(
            s,
            "    source: include_str!(concat!(env!(\"OUT_DIR\"), \"/wgsl/{}.wgsl\")),",
            m.name
        );
        let _ = writeln!(s, "    imports: {},", list(&m.composed.imports));
        let _ = writeln!(s, "    entries: {},", list(&i.entries));
        let _ = writeln!(s, "    params_size: {},", i.params_size);
        s.push_str("    params: &[\n");
        for f in &i.params {
            let _ = writeln!(
                s,
                "        ShaderField {{ name: {:?}, offset: {}, size: {} }},",
                f.name, f.offset, f.size
            );
        }
        s.push_str("    ],\n    storage: &[\n");
        for b in &i.storage {
            let _ = writeln!(
                s,
                "        ShaderBinding {{ binding: {}, name: {:?}, access: Access::{}, min_size: {} }},",
                b.binding,
                b.name,
                if b.read_write { "ReadWrite" } else { "Read" },
                b.min_size
            );
        }
        s.push_str("    ],\n");
        let _ = writeln!(s, "    overrides: {},", list(&i.overrides));
        let consts: Vec<String> = i
            .constants
            .iter()
            .map(|(n, v)| format!("({n:?}, {v})"))
            .collect();
        let _ = writeln!(s, "    constants: &[{}],", consts.join(", "));
        let _ = writeln!(s, "    kernels: {},", list(&m.composed.kernels));
        s.push_str("};\n\n");
    }
    s.push_str("/// Every shader module, kernels' files and generated ones.\n");
    s.push_str("pub static SHADERS: &[&Shader] = &[\n");
    for m in modules {
        let _ = writeln!(s, "    &{},", const_name(&m.name));
    }
    s.push_str("];\n\n");
    s.push_str("/// Every kernel declaration, as the shaders' `#kernel` lines name them.\n");
    s.push_str("pub static KERNELS: &[&dyn AnyKernel] = &[\n");
    for m in modules {
        for k in &m.composed.kernels {
            let _ = writeln!(s, "    &crate::kernels::{k},");
        }
    }
    s.push_str("];\n\n");
    s.push_str("// Each declaration belongs to the shader whose `#kernel` line names it.\n");
    for m in modules {
        for k in &m.composed.kernels {
            let _ = writeln!(
                s,
                "const _: () = assert_shader(&crate::kernels::{k}.info, {:?});",
                m.name
            );
        }
    }
    s.push_str("\n/// The `u32` constants each shared snippet defines (as reflected in a kernel that imports it).\n");
    s.push_str("pub static SNIPPETS: &[Snippet] = &[\n");
    for (name, text) in snippets {
        let user = modules.iter().find(|m| m.composed.imports.contains(name));
        let consts: Vec<String> = user
            .map(|m| {
                m.iface
                    .constants
                    .iter()
                    .filter(|(n, _)| text.contains(&format!("const {n}:")))
                    .map(|(n, v)| format!("({n:?}, {v})"))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    Snippet {{ name: {name:?}, constants: &[{}] }},",
            consts.join(", ")
        );
    }
    s.push_str("];\n");
    s
}
