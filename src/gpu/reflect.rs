//! The shader's own word on its interface, read with naga: the uniform `Params` struct's
//! field offsets and sizes, every storage binding's name, access and minimum size, and the
//! module's named `u32` constants and overrides. [`check`] compares a kernel declaration
//! with it; pipelines are only built from declarations that pass.

use crate::gpu::kernel::{Access, AnyKernel, SharedConst};

/// A field of the WGSL uniform struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WgslField {
    pub name: String,
    pub offset: usize,
    pub size: usize,
}

/// A storage binding as the WGSL declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WgslBinding {
    pub binding: u32,
    pub name: String,
    pub access: Access,
    /// Bytes one element of the bound array takes: the smallest valid binding.
    pub min_size: u64,
}

/// What a compiled WGSL module exposes to the host.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Fields and total size of the uniform at binding 0.
    pub params: Vec<WgslField>,
    pub params_size: usize,
    /// Storage bindings 1.. in binding order.
    pub storage: Vec<WgslBinding>,
    /// Module-scope `const NAME: u32 = ...;` values.
    pub constants: Vec<(String, u32)>,
    /// Names of the `override` constants.
    pub overrides: Vec<String>,
}

fn type_size(module: &naga::Module, ty: naga::Handle<naga::Type>) -> Result<usize, String> {
    use naga::TypeInner as T;
    Ok(match &module.types[ty].inner {
        T::Scalar(s) => s.width as usize,
        T::Vector { size, scalar } => *size as usize * scalar.width as usize,
        T::Struct { span, .. } => *span as usize,
        T::Array {
            size: naga::ArraySize::Constant(n),
            stride,
            ..
        } => n.get() as usize * *stride as usize,
        other => return Err(format!("unexpected uniform field type {other:?}")),
    })
}

/// Parses WGSL and reads its interface.
pub fn reflect(source: &str) -> Result<Interface, String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let mut params = None;
    let mut storage = Vec::new();
    for (_, var) in module.global_variables.iter() {
        let Some(binding) = &var.binding else {
            continue;
        };
        if binding.group != 0 {
            return Err(format!("binding {:?} is not in group 0", var.name));
        }
        let name = var.name.clone().unwrap_or_default();
        match var.space {
            naga::AddressSpace::Uniform => {
                if binding.binding != 0 {
                    return Err(format!("uniform `{name}` is not at binding 0"));
                }
                let naga::TypeInner::Struct { members, span } = &module.types[var.ty].inner else {
                    return Err(format!("uniform `{name}` is not a struct"));
                };
                let mut fields = Vec::new();
                for m in members {
                    fields.push(WgslField {
                        name: m.name.clone().unwrap_or_default(),
                        offset: m.offset as usize,
                        size: type_size(&module, m.ty)?,
                    });
                }
                params = Some((fields, *span as usize));
            }
            naga::AddressSpace::Storage { access } => {
                let access = if access.contains(naga::StorageAccess::STORE) {
                    Access::ReadWrite
                } else {
                    Access::Read
                };
                let min_size = match &module.types[var.ty].inner {
                    naga::TypeInner::Array { stride, .. } => *stride as u64,
                    _ => type_size(&module, var.ty)? as u64,
                };
                storage.push(WgslBinding {
                    binding: binding.binding,
                    name,
                    access,
                    min_size,
                });
            }
            _ => return Err(format!("binding `{name}` is neither uniform nor storage")),
        }
    }
    storage.sort_by_key(|b| b.binding);
    let (params, params_size) = params.ok_or("no uniform Params at binding 0")?;
    let constants = module
        .constants
        .iter()
        .filter_map(|(_, c)| match module.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => Some((c.name.clone()?, v)),
            _ => None,
        })
        .collect();
    let overrides = module
        .overrides
        .iter()
        .filter_map(|(_, o)| o.name.clone())
        .collect();
    Ok(Interface {
        params,
        params_size,
        storage,
        constants,
        overrides,
    })
}

/// Reflects a kernel's WGSL and checks its declaration against it: the Rust `Params`
/// (size, and name, offset and size of every non-padding field), the storage bindings
/// (numbered 1.. in declaration order, names and access), and the declared overrides.
pub fn check(kernel: &dyn AnyKernel) -> Result<Interface, String> {
    let info = kernel.info();
    let iface = reflect(&info.full_source())?;
    let (fields, size) = kernel.params_layout();
    let wgsl: Vec<_> = iface
        .params
        .iter()
        .filter(|f| !f.name.starts_with('_'))
        .collect();
    let rust: Vec<_> = fields.iter().filter(|f| !f.name.starts_with('_')).collect();
    if size != iface.params_size {
        return Err(format!(
            "Params is {size} bytes in Rust but {} bytes in WGSL",
            iface.params_size
        ));
    }
    if wgsl.len() != rust.len() {
        return Err(format!(
            "Params has {} fields in Rust but {} in WGSL",
            rust.len(),
            wgsl.len()
        ));
    }
    for (r, w) in rust.iter().zip(&wgsl) {
        if r.name != w.name || r.offset != w.offset || r.size != w.size {
            return Err(format!(
                "Params field `{}` (offset {}, {} bytes) in Rust is `{}` (offset {}, {} bytes) in WGSL",
                r.name, r.offset, r.size, w.name, w.offset, w.size
            ));
        }
    }
    if iface.storage.len() != info.bindings.len() {
        return Err(format!(
            "{} storage bindings declared, the shader has {}",
            info.bindings.len(),
            iface.storage.len()
        ));
    }
    for (i, (decl, w)) in info.bindings.iter().zip(&iface.storage).enumerate() {
        let expect = i as u32 + 1;
        if w.binding != expect || w.name != decl.name || w.access != decl.access {
            return Err(format!(
                "binding {expect} is declared `{}` ({:?}) but the shader has `{}` ({:?}) at binding {}",
                decl.name, decl.access, w.name, w.access, w.binding
            ));
        }
    }
    for name in info.overrides {
        if !iface.overrides.iter().any(|o| o == name) {
            return Err(format!("the shader has no override `{name}`"));
        }
    }
    Ok(iface)
}

/// Checks that every shared constant has the same value in `source` as on the host.
pub fn check_constants(source: &str, consts: &[SharedConst]) -> Result<(), String> {
    let iface = reflect(source)?;
    for c in consts {
        match iface.constants.iter().find(|(n, _)| n == c.name) {
            Some((_, v)) if *v == c.value => {}
            Some((_, v)) => {
                return Err(format!("{} is {} in Rust but {v} in WGSL", c.name, c.value))
            }
            None => return Err(format!("{} is not defined in the WGSL", c.name)),
        }
    }
    Ok(())
}
