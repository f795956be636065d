//! Integration tests of the session report: statistics against scipy's fixtures, figures on
//! sessions built as data, the loader on real SQLite stores, the rendered page.

mod util;

mod figures;
mod html;
mod load;
mod personal;
mod stats;
