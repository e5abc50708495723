//! Every kernel's WGSL, exactly as the device compiles it (shared snippets prepended), parses
//! and validates with naga; and a broken shader is caught.

use flowgpu::gpu::kernels::KERNELS;

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
    for spec in KERNELS {
        let src = spec.full_source();
        if let Err(e) = validate(&src) {
            panic!("{} ({:?}) does not validate:\n{e}", spec.file, spec.kernel);
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
        if name == "common.wgsl" || name == "matmul_common.wgsl" {
            continue;
        }
        assert!(
            KERNELS.iter().any(|k| k.file == name),
            "shaders/{name} is not in the kernel table"
        );
    }
}

#[test]
fn a_broken_shader_fails_validation() {
    let spec = &KERNELS[0];
    let good = spec.full_source();
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
