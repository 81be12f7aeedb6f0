//! packet parsing (in progress)
