//! Integration tests of central sync and research export against a real PostgreSQL server
//! (`DATABASE_URL`, else 127.0.0.1:5432; `scripts/with-postgres` provides one). Each test creates
//! its own database and drops it afterwards; without a server they fail and say why. The TLS
//! tests start throwaway servers of their own instead (`cluster`).

#![allow(clippy::print_stderr)]

mod catalogue;
mod cluster;
mod consent;
mod export;
mod faults;
mod sync;
mod tls;
mod util;
