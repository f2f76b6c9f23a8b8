//! Generates the Rust code for every `.proto` under this folder, plus the file
//! descriptor set that gRPC server reflection serves. protoc comes vendored,
//! so no system install is needed.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "switchyard/v1/registry.proto",
    "switchyard/v1/ingest.proto",
    "switchyard/v1/router.proto",
    "switchyard/v1/delivery.proto",
    "switchyard/v1/workspace.proto",
    "switchyard/internal/v1/routing.proto",
    "switchyard/internal/v1/delivery_control.proto",
];

#[allow(unsafe_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let well_known = protoc_bin_vendored::include_path()?;
    // Build scripts run single threaded, so setting the variable prost-build
    // reads is sound here.
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let well_known = well_known.display().to_string();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("switchyard_descriptor.bin"))
        .compile_protos(PROTOS, &[".", well_known.as_str()])?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
