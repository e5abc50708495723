//! CPU reference implementation (the oracle). See tests/reference.rs.
