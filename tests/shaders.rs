//! The shader index the build writes: every shader validates (again, here, with the build's
//! own preprocessor and reflection), every kernel declaration matches its shader, the index
//! and the files of `shaders/` agree, and broken shaders, imports or declarations are caught
//! with a message that points at the right place.

#[path = "../build/reflect.rs"]
mod reflect;
#[path = "../build/wgsl_import.rs"]
mod wgsl_import;

use flowgpu::gpu::kernel::{
    check_declaration, read, write, Binding, KernelInfo, Params, Workgroup,
};
use flowgpu::kernels::matmul::subgroup_blocks::SUBGROUP_BLOCKS;
use flowgpu::kernels::matmul::MatmulParams;
use flowgpu::kernels::{self, shaders, ALL};

fn shared_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders/shared")
}

fn load(name: &str) -> Result<(String, String), String> {
    let path = shared_dir().join(format!("{name}.wgsl"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((text, format!("shaders/shared/{name}.wgsl")))
}

fn compose(name: &str, text: &str) -> Result<wgsl_import::Composed, String> {
    wgsl_import::compose(name, text, &load)
}

#[test]
fn every_indexed_shader_validates_and_reflects_as_the_index_says() {
    for shader in shaders::SHADERS {
        let composed = wgsl_import::Composed {
            text: shader.source.to_string(),
            ..Default::default()
        };
        let iface = reflect::reflect(&composed)
            .unwrap_or_else(|e| panic!("{} does not validate:\n{e}", shader.file));
        assert_eq!(iface.params_size, shader.params_size, "{}", shader.file);
        assert_eq!(iface.storage.len(), shader.storage.len(), "{}", shader.file);
        assert_eq!(iface.entries, shader.entries, "{}", shader.file);
    }
}

#[test]
fn every_shader_file_and_generated_block_is_in_the_index() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).expect("shaders/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(
                shaders::SHADERS
                    .iter()
                    .any(|s| s.file == name && !s.generated),
                "shaders/{name} is not in the index"
            );
            files += 1;
        }
    }
    for block in SUBGROUP_BLOCKS {
        assert!(
            shaders::SHADERS
                .iter()
                .any(|s| s.generated && s.name == block.name()),
            "{} was not generated",
            block.name()
        );
    }
    assert_eq!(shaders::SHADERS.len(), files + SUBGROUP_BLOCKS.len());
    for kind in ["nn", "tn", "nt"] {
        assert!(
            SUBGROUP_BLOCKS.iter().any(|b| b.kind == kind),
            "no subgroup block of kind {kind}"
        );
    }
}

#[test]
fn every_kernel_is_declared_once_on_its_shader() {
    let mut seen = std::collections::BTreeSet::new();
    for k in ALL {
        let info = k.info();
        let (fields, size) = k.params_layout();
        assert!(
            check_declaration(info, fields, size).is_ok(),
            "{}",
            info.label()
        );
        assert!(seen.insert(info.label()), "{} declared twice", info.label());
    }
    let declared: usize = shaders::SHADERS.iter().map(|s| s.kernels.len()).sum();
    assert_eq!(ALL.len(), declared);
    // Every entry point of every shader has a declaration.
    for s in shaders::SHADERS {
        for e in s.entries {
            assert!(
                seen.contains(&format!("{}:{e}", s.file)),
                "{}:{e} has no declaration",
                s.file
            );
        }
    }
}

#[test]
fn shared_constants_agree() {
    for (snippet, consts) in kernels::SHARED_CONSTANTS {
        let s = shaders::SNIPPETS
            .iter()
            .find(|s| s.name == *snippet)
            .unwrap_or_else(|| panic!("no snippet {snippet}"));
        for c in *consts {
            assert_eq!(
                s.constants.iter().find(|(n, _)| *n == c.name).map(|c| c.1),
                Some(c.value),
                "{snippet}: {}",
                c.name
            );
        }
    }
}

#[test]
fn a_broken_shader_fails_with_its_file_and_line() {
    let kernel = "// a kernel\n#import common\n\nfn main_helper() -> u32 {\n    let x: u32 = 1.5;\n    return x;\n}\n";
    let composed = compose("shaders/broken.wgsl", kernel).expect("imports resolve");
    let e = reflect::reflect(&composed).expect_err("a type error passed validation");
    // The error is on line 5 of the kernel file, not of the composed text.
    assert!(e.contains("shaders/broken.wgsl:5"), "{e}");

    let good = shaders::MATMUL_NN.source;
    let syntax_error = good.replacen("fn main(", "fn main((", 1);
    assert_ne!(syntax_error, good);
    let c = wgsl_import::Composed {
        text: syntax_error,
        ..Default::default()
    };
    assert!(reflect::reflect(&c).is_err(), "a syntax error passed");
}

#[test]
fn imports_are_inlined_once_and_bad_ones_are_caught() {
    let twice = "#import matmul_common\n#import common\n#import common\n#kernel x::Y\n";
    let c = compose("k.wgsl", twice).expect("composes");
    assert_eq!(c.imports, ["matmul_common", "common"]);
    assert_eq!(c.kernels, ["x::Y"]);
    assert_eq!(c.text.matches("fn pcg_hash").count(), 1);
    let e = compose("k.wgsl", "#import nothing_here\n").expect_err("a missing snippet");
    assert!(e.contains("k.wgsl:1") && e.contains("nothing_here"), "{e}");
    let e = compose("k.wgsl", "#include common\n").expect_err("an unknown directive");
    assert!(e.contains("unknown directive"), "{e}");
    let circular = |name: &str| -> Result<(String, String), String> {
        Ok((format!("#import {name}\n"), format!("{name}.wgsl")))
    };
    let e = wgsl_import::compose("k.wgsl", "#import a\n", &circular).expect_err("circular");
    assert!(e.contains("circular"), "{e}");
}

/// A matmul declaration with other bindings or overrides, for the mismatch tests.
fn matmul_with(bindings: &'static [Binding], overrides: &'static [&'static str]) -> KernelInfo {
    let info = &kernels::matmul::MATMUL_NN.info;
    KernelInfo {
        shader: info.shader,
        entry: info.entry,
        bindings,
        workgroup: Workgroup::Matmul,
        overrides,
        features: wgpu::Features::empty(),
    }
}

const GOOD: &[Binding] = &[read("a"), read("b"), write("c"), read("aux")];
const WRONG_ACCESS: &[Binding] = &[read("a"), read("b"), read("c"), read("aux")];
const WRONG_NAMES: &[Binding] = &[read("b"), read("a"), write("c"), read("aux")];
const TOO_FEW: &[Binding] = &[read("a"), read("b"), write("c")];

fn check<P: Params>(info: &KernelInfo) -> Result<(), &'static str> {
    check_declaration(info, P::FIELDS, std::mem::size_of::<P>())
}

#[test]
fn a_wrong_declaration_is_caught() {
    assert!(check::<MatmulParams>(&matmul_with(GOOD, &["EPILOGUE"])).is_ok());
    let cases = [
        ("access", matmul_with(WRONG_ACCESS, &["EPILOGUE"]), "access"),
        ("name", matmul_with(WRONG_NAMES, &["EPILOGUE"]), "name"),
        ("count", matmul_with(TOO_FEW, &["EPILOGUE"]), "number"),
        ("override", matmul_with(GOOD, &["EPILOG"]), "override"),
    ];
    for (what, info, says) in &cases {
        let e = check::<MatmulParams>(info).expect_err(what);
        assert!(e.contains(says), "a wrong {what}: {e}");
    }
    let mut fixed = matmul_with(GOOD, &["EPILOGUE"]);
    fixed.workgroup = Workgroup::Elementwise;
    assert!(
        check::<MatmulParams>(&fixed).is_err(),
        "a wrong workgroup class"
    );
    let mut entry = matmul_with(GOOD, &["EPILOGUE"]);
    entry.entry = "mian";
    assert!(
        check::<MatmulParams>(&entry).is_err(),
        "a wrong entry point"
    );
}

flowgpu::gpu_params! {
    /// MatmulParams with two fields swapped: same size, wrong offsets.
    pub struct SwappedParams {
        pub n: u32,
        pub m: u32,
        pub k: u32,
        pub lda: u32,
        pub ldb: u32,
        pub ldc: u32,
        pub a_ones: u32,
        pub _pad0: u32,
    }
}

flowgpu::gpu_params! {
    /// MatmulParams without its padding: a different size.
    pub struct ShortParams {
        pub m: u32,
        pub n: u32,
        pub k: u32,
        pub lda: u32,
        pub ldb: u32,
        pub ldc: u32,
        pub a_ones: u32,
    }
}

#[test]
fn a_wrong_params_struct_is_caught() {
    let info = matmul_with(GOOD, &["EPILOGUE"]);
    let e = check::<SwappedParams>(&info).expect_err("swapped fields passed");
    assert!(e.contains("name"), "{e}");
    let e = check::<ShortParams>(&info).expect_err("a short struct passed");
    assert!(e.contains("size"), "{e}");
}
