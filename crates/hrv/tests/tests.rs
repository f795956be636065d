//! Integration tests.
mod allocation;
mod behaviour;
mod properties;
mod reference;
mod streaming;
mod synchrony;
mod util;
