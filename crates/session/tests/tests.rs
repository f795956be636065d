//! The session engine's specification, as runnable scenarios on a virtual clock.

mod floods;
mod manual;
mod memory;
mod participants;
mod properties;
mod rolling;
mod util;
