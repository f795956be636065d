//! Sync Hub's session report: the figures and statistics of one stored session.
//!
//! This first part holds the statistics the report cites ([`stats`]), each validated against
//! scipy and numpy.

pub mod stats;
