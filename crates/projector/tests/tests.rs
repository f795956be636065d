//! The projector's integration tests: the mandala's geometry as a specification, and the real
//! window rendered under Xvfb from a recorded stream.

mod connection;
mod geometry;
mod render;
mod util;
