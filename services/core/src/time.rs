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

/// A `google.protobuf.Timestamp` as a time; the error says why it is not one.
pub fn from_proto(time: &prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    let nanos = u32::try_from(time.nanos).map_err(|_| "has negative nanos".to_string())?;
    DateTime::from_timestamp(time.seconds, nanos).ok_or_else(|| "is out of range".to_string())
}
