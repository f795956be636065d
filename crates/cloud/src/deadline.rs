//! Deadlines on every call to the central database, so a database (or a network) that stops
//! answering mid-push fails the attempt in bounded time instead of leaving the sync "running"
//! for ever.
//!
//! Two sides, because each covers what the other cannot:
//!
//! - **Client side**: every call (each statement, each row of a `COPY`, the commit) runs under
//!   `tokio::time::timeout`. A stalled network never lets the server answer, so only the client
//!   can notice; the attempt then fails with [`Error::Timeout`], and the next one resumes from
//!   the central watermark (nothing of the stalled transaction was committed).
//! - **Server side**: the session sets `statement_timeout` and
//!   `idle_in_transaction_session_timeout` to the same limit, so a server whose client vanished
//!   mid-transaction cancels the statement and ends the session, releasing the watermark row's
//!   lock that the next attempt needs.
//!
//! The server may only find out a long while later that the client gave up (its timeouts run
//! from its last statement, and an aborted transaction keeps its locks until the session ends).
//! So when an attempt times out, the hub asks the server, over a fresh connection, to end the
//! abandoned session ([`abandon`]): when the database is reachable again, the next attempt does
//! not wait behind the old one's lock. The session is named by its process id *and* start time,
//! so a reused process id never ends somebody else's session.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::Error;

/// How long one call to the central database may take by default, and the server's statement
/// and idle-in-transaction timeouts. A `COPY` of one batch (50 000 rows, a few MB) is one
/// statement, so this must leave room for it on a slow uplink; `--sync-timeout-secs` raises it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `call` for at most `limit`. Running out of time, or the server cancelling the statement
/// for its own `statement_timeout`, is [`Error::Timeout`] saying what was under way (`what` is
/// only evaluated then).
pub(crate) async fn within<T, E: Into<Error>>(
    limit: Duration,
    what: impl FnOnce() -> String,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => match error.into() {
            Error::Postgres(error) if error.code() == Some(&SqlState::QUERY_CANCELED) => {
                Err(Error::Timeout {
                    what: what(),
                    limit,
                })
            }
            error => Err(error),
        },
        Err(_) => Err(Error::Timeout {
            what: what(),
            limit,
        }),
    }
}

/// One server session, as `pg_stat_activity` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backend {
    pid: i32,
    /// `backend_start` as text: with the pid, unique for the server's lifetime.
    started: String,
}

/// Sets the session's server-side timeouts to `limit` and says which session it is.
pub(crate) async fn limit_session(client: &Client, limit: Duration) -> Result<Backend, Error> {
    let millis = limit.as_millis().max(1);
    within(
        limit,
        || "setting the session's timeouts".to_owned(),
        client.batch_execute(&format!(
            "SET statement_timeout = {millis}; SET idle_in_transaction_session_timeout = {millis}"
        )),
    )
    .await?;
    let row = within(
        limit,
        || "asking for the session's id".to_owned(),
        client.query_one(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        ),
    )
    .await?;
    Ok(Backend {
        pid: row.get(0),
        started: row.get(1),
    })
}

/// After a timed-out attempt: asks the server, over a fresh connection and in the background,
/// to end `backend` (rolling back its transaction and releasing its locks). Gives up silently
/// after `limit` (the database is still unreachable; its own timeouts end the session then).
pub(crate) fn abandon(database_url: String, backend: Backend, limit: Duration) {
    tokio::spawn(async move {
        let ended = tokio::time::timeout(limit, async {
            let (client, _connection) = crate::connect::connect_guarded(&database_url).await?;
            let row = client
                .query_one(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE pid = $1 AND backend_start::text = $2",
                    &[&backend.pid, &backend.started],
                )
                .await?;
            Ok::<i64, Error>(row.get(0))
        })
        .await;
        match ended {
            Ok(Ok(count)) => {
                tracing::info!(
                    pid = backend.pid,
                    ended = count,
                    "ended the abandoned central session"
                );
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "could not end the abandoned central session");
            }
            Err(_) => tracing::debug!("the central database is still not answering"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_never_answers_times_out_naming_what_it_was() {
        let never = std::future::pending::<Result<(), Error>>();
        let error = within(Duration::from_millis(50), || "committing".to_owned(), never)
            .await
            .expect_err("times out");
        assert!(matches!(&error, Error::Timeout { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("committing"), "{message}");
        assert!(message.contains("within 50ms"), "{message}");
    }

    #[tokio::test]
    async fn an_answer_in_time_is_passed_through() {
        let answer = within(Duration::from_secs(60), || unreachable!(), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, Error>(7)
        })
        .await
        .expect("in time");
        assert_eq!(answer, 7);
    }
}
