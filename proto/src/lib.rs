//! The protobuf contract of Switchyard and the tonic/prost code generated
//! from it. `v1` is the public API (`switchyard.v1`); `internal::v1` holds the
//! service-to-service RPCs that workspace keys cannot call.

#![allow(clippy::all, missing_docs, rust_2018_idioms)]

pub mod v1 {
    tonic::include_proto!("switchyard.v1");
}

pub mod internal {
    pub mod v1 {
        tonic::include_proto!("switchyard.internal.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Switchyard proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchyard_descriptor");
