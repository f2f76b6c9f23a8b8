//! ingest service (being written)
