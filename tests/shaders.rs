//! Every kernel's WGSL, exactly as the device compiles it (shared snippets prepended), parses
//! and validates with naga; every kernel declaration matches its shader (uniform `Params`
//! layout, storage bindings' names and access, overrides); the mode constants shared by the
//! host and the WGSL agree; and broken shaders or declarations are caught.

use flowgpu::gpu::kernel::{read, write, AnyKernel, Binding, Kernel, KernelInfo, Workgroup};
use flowgpu::gpu::reflect;
use flowgpu::kernels::{self, matmul::MatmulParams, ALL};

fn validate(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .map_err(|e| format!("{e:?}"))?;
    Ok(())
}

#[test]
fn every_kernel_validates() {
    for k in ALL {
        let info = k.info();
        if let Err(e) = validate(&info.full_source()) {
            panic!("{} does not validate:\n{e}", info.label());
        }
    }
}

#[test]
fn every_declaration_matches_its_shader() {
    for k in ALL {
        if let Err(e) = reflect::check(*k) {
            panic!("{}: {e}", k.info().label());
        }
    }
}

#[test]
fn shared_constants_agree() {
    for (snippet, consts) in kernels::shared_constants() {
        // Reflect through a kernel that includes the snippet.
        let kernel = ALL
            .iter()
            .find(|k| k.info().snippets.iter().any(|s| s.contains(consts[0].name)))
            .unwrap_or_else(|| panic!("no kernel includes {snippet}"));
        if let Err(e) = reflect::check_constants(&kernel.info().full_source(), &consts) {
            panic!("{snippet}: {e}");
        }
    }
}

#[test]
fn every_shader_file_is_in_the_table() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    for entry in std::fs::read_dir(dir).expect("shaders/ exists") {
        let name = entry
            .expect("readable entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        // Snippets, prepended to the kernels that use them.
        if ["common.wgsl", "matmul_common.wgsl", "matmul_shared.wgsl"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            ALL.iter().any(|k| k.info().file == name),
            "shaders/{name} is not in the kernel table"
        );
    }
}

#[test]
fn a_broken_shader_fails_validation() {
    let good = ALL[0].info().full_source();
    assert!(validate(&good).is_ok());
    // A type error (f32 into u32) and a syntax error must both be reported.
    let type_error = good.replacen("let row0 = gid.y * 4u;", "let row0: u32 = 1.5;", 1);
    assert_ne!(type_error, good);
    assert!(
        validate(&type_error).is_err(),
        "a type error passed validation"
    );
    let syntax_error = good.replacen("fn main(", "fn main((", 1);
    assert!(
        validate(&syntax_error).is_err(),
        "a syntax error passed validation"
    );
}

/// A matmul declaration with other bindings, for the mismatch tests.
fn matmul_with(
    bindings: &'static [Binding],
    overrides: &'static [&'static str],
) -> Kernel<MatmulParams> {
    let info = &kernels::matmul::MATMUL_NN.info;
    Kernel::new(KernelInfo {
        file: info.file,
        source: info.source,
        snippets: info.snippets,
        entry: info.entry,
        bindings,
        workgroup: Workgroup::Matmul,
        overrides,
        features: wgpu::Features::empty(),
    })
}

const GOOD: &[Binding] = &[read("a"), read("b"), write("c"), read("aux")];
const WRONG_ACCESS: &[Binding] = &[read("a"), read("b"), read("c"), read("aux")];
const WRONG_NAMES: &[Binding] = &[read("b"), read("a"), write("c"), read("aux")];
const TOO_FEW: &[Binding] = &[read("a"), read("b"), write("c")];

#[test]
fn a_wrong_declaration_is_caught() {
    let good = matmul_with(GOOD, &["EPILOGUE"]);
    assert!(reflect::check(&good).is_ok());
    let cases: [(&str, Kernel<MatmulParams>); 4] = [
        ("access", matmul_with(WRONG_ACCESS, &["EPILOGUE"])),
        ("name", matmul_with(WRONG_NAMES, &["EPILOGUE"])),
        ("count", matmul_with(TOO_FEW, &["EPILOGUE"])),
        ("override", matmul_with(GOOD, &["EPILOG"])),
    ];
    for (what, k) in &cases {
        assert!(
            reflect::check(k as &dyn AnyKernel).is_err(),
            "a wrong {what} passed the check"
        );
    }
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
    let info = &kernels::matmul::MATMUL_NN.info;
    let decl = |_: ()| KernelInfo {
        file: info.file,
        source: info.source,
        snippets: info.snippets,
        entry: info.entry,
        bindings: info.bindings,
        workgroup: info.workgroup,
        overrides: info.overrides,
        features: info.features,
    };
    let swapped: Kernel<SwappedParams> = Kernel::new(decl(()));
    let short: Kernel<ShortParams> = Kernel::new(decl(()));
    let e = reflect::check(&swapped).expect_err("swapped fields passed");
    assert!(e.contains("`n`"), "{e}");
    let e = reflect::check(&short).expect_err("a short struct passed");
    assert!(e.contains("bytes"), "{e}");
}

#[test]
fn a_wrong_shared_constant_is_caught() {
    let src = kernels::matmul::MATMUL_NN.info.full_source();
    let mut consts = kernels::matmul::SHARED_CONSTANTS.to_vec();
    assert!(reflect::check_constants(&src, &consts).is_ok());
    consts[1].value = 7;
    assert!(reflect::check_constants(&src, &consts).is_err());
}
