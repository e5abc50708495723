//! What a composed WGSL module exposes to the host, read with naga after validating it:
//! the uniform `Params` at binding 0 (field names, offsets, sizes), every storage binding
//! (name, access, smallest valid size), entry points, overrides and module `u32` constants.
//! Errors point into the original files through the import line map.
//!
//! Shared by `build.rs` and `tests/shaders.rs`.

#![allow(dead_code)]

use crate::wgsl_import::Composed;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub size: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageBinding {
    pub binding: u32,
    pub name: String,
    pub read_write: bool,
    /// Bytes of one element of the bound array (or of the whole type): the smallest binding.
    pub min_size: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Interface {
    pub params: Vec<Field>,
    pub params_size: usize,
    /// Storage bindings 1.. in binding order.
    pub storage: Vec<StorageBinding>,
    pub entries: Vec<String>,
    pub overrides: Vec<String>,
    pub constants: Vec<(String, u32)>,
}

fn located(composed: &Composed, line: Option<u32>, message: String) -> String {
    match line {
        Some(l) => format!("{}: {message}", composed.origin(l as usize)),
        None => message,
    }
}

/// Parses and validates a composed module (every capability allowed: the device checks
/// what it supports when it builds the pipeline), then reads its interface.
pub fn reflect(composed: &Composed) -> Result<Interface, String> {
    let source = &composed.text;
    let module = naga::front::wgsl::parse_str(source).map_err(|e| {
        let line = e.location(source).map(|l| l.line_number);
        located(
            composed,
            line,
            format!("{}\n{}", e.message(), e.emit_to_string(source)),
        )
    })?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .map_err(|e| {
        let line = e.location(source).map(|l| l.line_number);
        located(
            composed,
            line,
            format!("{}\n{}", e.as_inner(), e.emit_to_string(source)),
        )
    })?;
    interface(&module)
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

fn interface(module: &naga::Module) -> Result<Interface, String> {
    let mut params = None;
    let mut storage = Vec::new();
    for (_, var) in module.global_variables.iter() {
        let Some(binding) = &var.binding else {
            continue;
        };
        let name = var.name.clone().unwrap_or_default();
        if binding.group != 0 {
            return Err(format!("binding `{name}` is not in group 0"));
        }
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
                    fields.push(Field {
                        name: m.name.clone().unwrap_or_default(),
                        offset: m.offset as usize,
                        size: type_size(module, m.ty)?,
                    });
                }
                params = Some((fields, *span as usize));
            }
            naga::AddressSpace::Storage { access } => {
                let min_size = match &module.types[var.ty].inner {
                    naga::TypeInner::Array { stride, .. } => *stride as u64,
                    _ => type_size(module, var.ty)? as u64,
                };
                storage.push(StorageBinding {
                    binding: binding.binding,
                    name,
                    read_write: access.contains(naga::StorageAccess::STORE),
                    min_size,
                });
            }
            _ => return Err(format!("binding `{name}` is neither uniform nor storage")),
        }
    }
    storage.sort_by_key(|b| b.binding);
    for (i, b) in storage.iter().enumerate() {
        if b.binding != i as u32 + 1 {
            return Err(format!(
                "storage binding `{}` is at {}, expected {} (bindings are numbered 1.. after Params)",
                b.name,
                b.binding,
                i + 1
            ));
        }
    }
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
    let entries = module
        .entry_points
        .iter()
        .filter(|e| e.stage == naga::ShaderStage::Compute)
        .map(|e| e.name.clone())
        .collect();
    Ok(Interface {
        params,
        params_size,
        storage,
        entries,
        overrides,
        constants,
    })
}
