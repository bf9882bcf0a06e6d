//! Module metadata (being written).
