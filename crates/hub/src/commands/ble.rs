//! `synchub ble decode HEX` and `synchub ble scan`: debugging aids for a facilitator with an
//! unknown strap — what does it send, and does this computer hear it?

use std::time::Duration;

use anyhow::Context as _;

/// `synchub ble …`.
#[derive(Debug, clap::Subcommand)]
pub enum BleCommand {
    /// Decode one Heart Rate Measurement (characteristic 0x2A37) written as hex, e.g.
    /// `synchub ble decode "16 3c 00 04"`, and print it as JSON.
    Decode {
        /// The notification's bytes: `163c0004`, `16 3c 00 04`, `16:3c:00:04` or `0x163c0004`.
        hex: String,
    },
    /// List nearby heart-rate straps (service 0x180D) and which Bluetooth adapters hear them, or
    /// say why this computer cannot.
    Scan {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 10)]
        secs: u64,
    },
}

#[allow(clippy::print_stdout)] // The command's output is for the person at the terminal.
pub fn run(command: BleCommand) -> anyhow::Result<()> {
    match command {
        BleCommand::Decode { hex } => {
            let measurement = synchub_ble::decode_hex(&hex)?;
            let json = serde_json::to_string(&measurement.to_debug_json())
                .context("writing the measurement as JSON")?;
            println!("{json}");
            Ok(())
        }
        BleCommand::Scan { secs } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let report = runtime
                .block_on(synchub_ble::scan_once(Duration::from_secs(secs.max(1))))
                .context("scanning for Bluetooth heart-rate straps")?;
            let adapters: Vec<&str> = report.adapters.iter().map(|id| id.as_str()).collect();
            println!("listening with Bluetooth adapters: {}", adapters.join(", "));
            if report.straps.is_empty() {
                println!(
                    "no heart-rate straps heard in {secs} s; straps advertise only while worn (wet the electrodes) and not while connected to a phone"
                );
            }
            for strap in report.straps {
                let name = strap.name.as_deref().unwrap_or("(no name)");
                let heard_by: Vec<String> = strap
                    .heard_by
                    .iter()
                    .map(|hearing| match hearing.rssi {
                        Some(rssi) => format!("{} {rssi} dBm", hearing.adapter),
                        None => format!("{} rssi ?", hearing.adapter),
                    })
                    .collect();
                let warning = strap
                    .smoothed_rr_warning
                    .as_deref()
                    .map_or_else(String::new, |warning| format!("  ({warning})"));
                println!(
                    "{code}  {id}  {name}  heard by {heard_by}{warning}",
                    code = strap.code,
                    id = strap.id.as_str(),
                    heard_by = heard_by.join(", ")
                );
            }
            Ok(())
        }
    }
}
