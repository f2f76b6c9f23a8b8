//! delivery service (being written)
