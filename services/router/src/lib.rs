//! router service (being written)
