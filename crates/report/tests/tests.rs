//! Integration tests of the session report: statistics against scipy's fixtures, figures from
//! real stores, the rendered page.

mod stats;
