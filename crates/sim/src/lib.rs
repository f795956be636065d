//! Simulated Sync Hub participants: realistic heart-rhythm streams, real socket clients, and a
//! crowd runner that `synchub demo`, the hub's tests and the load benchmark share.
//!
//! # Roles
//!
//! - [`rr`]: deterministic RR streams with coherence profiles ([`rr::Profile`]: settling,
//!   coherent, restless, irregular), each participant's physiology drawn from a seed.
//! - [`client`]: one participant's behaviour: joins, time-syncs, sends RR batches with `seq`
//!   (or scores every 5 s), tracks acks, resumes with its token after a dropped connection and
//!   resends what was not acknowledged.
//! - [`beats`]: a participant's beats: the RR stream cut into numbered batches that wait for
//!   their ack, or scored locally for score-only participants.
//! - [`connection`]: the framing: one connection over `/ws` or Socket.IO v4 with its
//!   handshake, hub events in, client events out.
//! - [`socketio`]: the Engine.IO v4 / Socket.IO v5 packet framing the connection speaks (written
//!   here so the binaries need no TLS or HTTP client stack).
//! - [`crowd`]: N participants started at a controlled rate with a mix of profiles and
//!   transports, cancellable, with shared [`stats`].
//! - [`discovery`]: finding a hub by mDNS (`_synchub._tcp.local.`) when no URL is given.
//! - [`procfs`]: CPU and memory of a process from `/proc`, for the benchmark summary.
//!
//! # Example
//!
//! A crowd against a running hub (`synchub serve --no-mdns`), as `synchub demo` starts it:
//!
//! ```no_run
//! use std::time::Duration;
//! use synchub_sim::crowd::{Crowd, CrowdConfig};
//!
//! # async fn demo() {
//! let crowd = Crowd::start(CrowdConfig::demo_room("http://127.0.0.1:7878", Some("4821".into())));
//! tokio::time::sleep(Duration::from_secs(60)).await;
//! eprintln!("{}", crowd.snapshot().progress_line(Duration::from_secs(60)));
//! let report = crowd.stop(Duration::from_secs(5)).await;
//! assert_eq!(report.stats.batches_acked, report.stats.batches_sent);
//! # }
//! ```
//!
//! The generator alone needs no runtime:
//!
//! ```
//! use synchub_sim::rr::{Profile, RrStream};
//!
//! let mut restless = RrStream::new(Profile::Restless, 3);
//! let first_minute: Vec<f64> = restless.by_ref().take(60).collect();
//! assert!(first_minute.iter().all(|rr_ms| (300.0..=2000.0).contains(rr_ms)));
//! ```
//!
//! # Invariants
//!
//! - **One runtime, one task per participant**: no thread per client, so ten thousand
//!   participants cost memory, not threads.
//! - **Bounded**: every connection attempt has a timeout, reconnects are capped, a crowd's stop
//!   drains for a bounded time and then leaves.
//! - **Depends only on `protocol` and `hrv` of ours**: what it sends is built from the
//!   protocol's types; hub events are read leniently, field by field.

pub mod beats;
pub mod client;
pub mod connection;
pub mod crowd;
pub mod discovery;
pub mod procfs;
pub mod rr;
pub mod socketio;
pub mod stats;
