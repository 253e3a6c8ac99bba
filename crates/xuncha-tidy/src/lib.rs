//! Tests only: see tests/tidy.rs.
