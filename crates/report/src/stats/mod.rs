//! The statistics a report cites, written to give exactly the figures scipy and numpy give.
//!
//! A researcher will quote these numbers next to "computed with scipy", so each function here
//! follows one pinned reference (scipy 1.16.3, numpy 2.3.5) down to its tie handling and its
//! floating-point formulas, and `tests/stats.rs` checks it against fixtures that
//! `tools/reference/stats.py` wrote with those versions. Everything is pure: values in,
//! figures out; randomness comes in as a seed.

mod bootstrap;
mod quantile;
mod wilcoxon;

pub use bootstrap::{
    BOOTSTRAP_RESAMPLES, ConfidenceInterval, SplitMix64, median_interval_from_resamples,
    seeded_median_interval,
};
pub use quantile::{median, quantile_linear, quantile_of_sorted};
pub use wilcoxon::{PairedComparison, WilcoxonMethod, rank_biserial, wilcoxon_signed_rank};
