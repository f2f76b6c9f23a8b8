//! Conversions between `chrono` timestamps and `google.protobuf.Timestamp`.

use chrono::{DateTime, Utc};

pub fn to_proto(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn to_proto_opt(time: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    time.map(to_proto)
}
