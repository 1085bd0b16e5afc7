//! Shared helpers for Berth benchmarks.
