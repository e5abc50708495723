//! Keeps a false error off every run on a machine without a display.
//!
//! `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`, printed twice per run,
//! comes from libwayland: Mesa's Vulkan device-select layer (an implicit layer installed
//! with `mesa-vulkan-drivers`) connects to the Wayland display while the loader enumerates
//! devices, because wgpu enables the window-system extensions on every Vulkan instance.
//! flowgpu chooses its adapter itself and never draws to a window, so where that
//! connection cannot work (no runtime directory) the layer is switched off through its own
//! documented variable, `NODEVICE_SELECT=1`. A variable the user set is left alone.

/// Call first thing in `main`, before any thread exists (it sets an environment variable).
pub fn silence_display_probes() {
    let unset = |k: &str| std::env::var_os(k).is_none_or(|v| v.is_empty());
    if unset("XDG_RUNTIME_DIR") && unset("NODEVICE_SELECT") {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}
