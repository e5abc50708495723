//! Device errors are values, not panics: an invalid operation outside an error scope is
//! returned by the next wait (wgpu's default handler would panic), and one inside
//! `GpuContext::captured` names the operation.

use flowgpu::gpu::GpuContext;

/// A buffer wgpu refuses: mapped at creation with a size that is not a multiple of 4.
fn invalid_buffer(ctx: &GpuContext) -> wgpu::Buffer {
    ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("invalid on purpose"),
        size: 6,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: true,
    })
}

#[test]
fn device_errors_become_errors_not_panics() {
    // A context of its own: this test puts its device in error on purpose.
    let ctx = GpuContext::from_env().expect("a GPU adapter");
    let err = ctx
        .captured(
            || "making a 6-byte mapped buffer".into(),
            || invalid_buffer(&ctx),
        )
        .expect_err("the scope catches it");
    assert!(
        err.to_string()
            .contains("making a 6-byte mapped buffer failed"),
        "{err}"
    );
    ctx.wait().expect("a caught error is not reported again");

    let _buffer = invalid_buffer(&ctx);
    let err = ctx
        .wait()
        .expect_err("an uncaught error comes back at the next wait");
    assert!(
        err.to_string().contains("the device reported an error"),
        "{err}"
    );
    ctx.wait().expect("it is reported once");
    // The context still works.
    let t = ctx.upload(&[1.0, 2.0], &[2], "after").expect("upload");
    assert_eq!(ctx.read(&t).expect("read"), vec![1.0, 2.0]);
}
