//! The `--adapter` option of the `flowgpu` binary and the train example. The choice travels
//! as a value to `GpuContext::new`; `FLOWGPU_ADAPTER` is only its default when no flag is given.

use std::sync::Arc;

use clap::Args;

use crate::error::Result;
use crate::gpu::{AdapterChoice, GpuContext};

#[derive(Clone, Debug, Default, Args)]
pub struct AdapterArg {
    /// Adapter: auto, hardware, software, or part of an adapter's name (default: the
    /// FLOWGPU_ADAPTER environment variable, else auto).
    #[arg(long, global = true, value_parser = parse_adapter)]
    pub adapter: Option<AdapterChoice>,
}

impl AdapterArg {
    /// The flag's choice, else `FLOWGPU_ADAPTER`'s, else `auto`.
    pub fn choice(&self) -> AdapterChoice {
        self.adapter.clone().unwrap_or_else(AdapterChoice::from_env)
    }

    /// Opens the chosen adapter and says on stderr which one it is.
    pub fn open_context(&self) -> Result<Arc<GpuContext>> {
        let ctx = Arc::new(GpuContext::new(&self.choice())?);
        eprintln!("adapter: {}", ctx.describe());
        Ok(ctx)
    }
}

fn parse_adapter(s: &str) -> std::result::Result<AdapterChoice, String> {
    Ok(AdapterChoice::parse(s))
}
