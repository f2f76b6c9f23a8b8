//! registry service (being written)
