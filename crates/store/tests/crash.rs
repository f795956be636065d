//! Crash safety: a child process writing beats is killed with SIGKILL at random points, many
//! times; after each restart every batch it reported durable is stored exactly, no batch is
//! half-written, and SQLite's integrity check passes.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng as _, SeedableRng as _};

use crate::util;

const CYCLES: usize = 40;
const BEATS_PER_BATCH: i64 = 5;

fn rr_ms(seq: i64, i: i64) -> f64 {
    500.0 + (seq % 1000) as f64 + i as f64 * 0.5
}

#[test]
fn sigkill_at_random_points_loses_no_acknowledged_batch() {
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: BTreeSet<(String, i64)> = BTreeSet::new();
    let mut cycles_with_acks = 0;
    for cycle in 0..CYCLES {
        let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-child"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (line_sender, line_receiver) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line_sender.send(line).is_err() {
                    break;
                }
            }
        });
        // Every fourth cycle is killed anywhere from start-up on (during migrations, recovery,
        // the first transaction); the others once the child is writing, so that most cycles
        // die with acknowledged batches and an open transaction behind them.
        let mut lines = Vec::new();
        if cycle % 4 != 0
            && let Ok(first) = line_receiver.recv_timeout(Duration::from_secs(30))
        {
            lines.push(first);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(line_receiver.try_iter());
        let mut new_acks = 0;
        for line in lines {
            // The last line may have been cut by the kill; a cut line was never acknowledged.
            let mut parts = line.split(' ');
            let (Some(participant), Some(seq), None) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(_), Ok(seq)) = (uuid::Uuid::parse_str(participant), seq.parse::<i64>()) else {
                continue;
            };
            acknowledged.insert((participant.to_owned(), seq));
            new_acks += 1;
        }
        if new_acks > 0 {
            cycles_with_acks += 1;
        }
        check_store(dir.path(), &acknowledged, cycle);
    }
    eprintln!(
        "crash test: {CYCLES} kill/restart cycles, {cycles_with_acks} with new acknowledgements, {} acknowledged batches",
        acknowledged.len()
    );
    assert!(
        cycles_with_acks >= CYCLES / 2,
        "the child wrote in most cycles ({cycles_with_acks})"
    );
}

fn check_store(dir: &std::path::Path, acknowledged: &BTreeSet<(String, i64)>, cycle: usize) {
    // Opening as the hub does: migrations, WAL recovery, interrupted-session lookup.
    let store = util::open(dir);
    let connection = util::sql(&store);
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "cycle {cycle}");
    let half_written = util::count(
        &connection,
        &format!(
            "SELECT count(*) FROM (SELECT count(*) AS n FROM rr_intervals \
             GROUP BY participant_ref, batch_seq HAVING n != {BEATS_PER_BATCH})"
        ),
    );
    assert_eq!(
        half_written, 0,
        "cycle {cycle}: a batch is stored partially or twice"
    );
    // One scan of every stored beat, then each acknowledged batch is checked in memory.
    let mut stored: HashMap<(String, i64), Vec<f64>> = HashMap::new();
    let mut statement = connection
        .prepare(
            "SELECT p.participant_id, r.batch_seq, r.rr_ms FROM rr_intervals r \
             JOIN session_participants p ON p.id = r.participant_ref ORDER BY r.id",
        )
        .unwrap();
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, f64>(2)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (participant, seq, rr_ms) = row.unwrap();
        stored.entry((participant, seq)).or_default().push(rr_ms);
    }
    for key in acknowledged {
        let expected: Vec<f64> = (0..BEATS_PER_BATCH).map(|i| rr_ms(key.1, i)).collect();
        assert_eq!(
            stored.get(key),
            Some(&expected),
            "cycle {cycle}: acknowledged batch {key:?}"
        );
    }
    // Whenever anything was written the session is still open, and recovery finds it.
    if !acknowledged.is_empty() {
        assert!(
            store.recovered().is_some(),
            "cycle {cycle}: interrupted session found"
        );
    }
}
