//! Integration tests of the strap reader: the real btleplug stack (libdbus, bluez-async)
//! against an emulated BlueZ on a private D-Bus (`tools/bluez-emulator/`), and against no bus.

// The tests print why they skip, loudly, and where the child's logs are.
#![allow(clippy::print_stderr)]

mod util;

mod emulated_bluez;
mod several_adapters;
