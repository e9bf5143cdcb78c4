//! Group commit of the writes on the token path (SPEC §12): an assertion's or a code's single
//! use, a refresh token family started, a family rotated. Each would otherwise be a transaction
//! of its own, and SQLite takes one writer at a time (PostgreSQL one commit flush each), so
//! concurrent grants would queue behind each other's commits. One task per store takes the
//! writes waiting, runs them in one transaction, and answers each with its own outcome.
//!
//! Failure cases, why none lets a replay through:
//! - A request is answered only after the transaction that recorded its use committed: a crash
//!   or a failed commit before that leaves it unanswered or refused, never accepted.
//! - No statement of a batch can fail for its data (claims and families are `ON CONFLICT DO
//!   NOTHING`, rotations conditional updates whose row count is the answer), so one request
//!   cannot fail the others; a database failure fails the whole batch, each request refused.
//! - Two instances batching the same ids in a different order could deadlock on PostgreSQL:
//!   each batch runs its writes sorted by key, so every instance takes the locks in one order.
//! - With the task gone (its runtime ended), a write runs alone, as before.

use std::future::Future;
use std::pin::Pin;

use tessera_core::model::RefreshFamily;
use tessera_core::ports::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 512;
/// Writes waiting for the task at most; beyond, a caller waits for room.
const QUEUE: usize = 8192;

/// One write of the token path; its outcome is a yes or no.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// Records an assertion's (or code's) `jti` for `issuer`: yes if it was the first use.
    Claim {
        issuer: String,
        jti: String,
        expires_at: i64,
    },
    /// Stores a new family: yes if no family had its id.
    StartFamily(Box<RefreshFamily>),
    /// A code's single use (`issuer`, the family's id) and, if it is the first, the family it
    /// starts: yes if it was the first.
    RedeemCode {
        issuer: String,
        expires_at: i64,
        family: Box<RefreshFamily>,
    },
    /// Replaces the family's token if `current_hash` is still its newest: yes if it was.
    Rotate {
        next: Box<RefreshFamily>,
        current_hash: [u8; 32],
    },
}

impl Write {
    /// The order in which a batch runs its writes: the same on every instance.
    fn key(&self) -> (u8, &str, &str) {
        match self {
            Write::Claim { issuer, jti, .. } => (0, issuer, jti),
            Write::RedeemCode { issuer, family, .. } => (0, issuer, &family.id),
            Write::StartFamily(f) => (1, &f.id, ""),
            Write::Rotate { next, .. } => (1, &next.id, ""),
        }
    }
}

/// Runs writes in one transaction, answering each in order.
pub(crate) type Commit = Box<
    dyn Fn(Vec<Write>) -> Pin<Box<dyn Future<Output = StoreResult<Vec<bool>>> + Send>>
        + Send
        + Sync,
>;

struct Job {
    write: Write,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// Whose turn it is to write. SQLite takes one writer at a time and makes the next one sleep
/// and retry (its busy handler backs off 1, 2, 5, 10… ms, which would be the token path's
/// tail): the group commit, the audit flusher and the checkpoint take turns here instead, in
/// the order they came. PostgreSQL locks rows, not the database: no turns there.
#[derive(Clone)]
pub(crate) struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

impl WriteGate {
    /// Writers take turns (SQLite).
    pub(crate) fn turns() -> WriteGate {
        WriteGate(Some(std::sync::Arc::new(tokio::sync::Mutex::new(()))))
    }

    /// Writers go at once (PostgreSQL).
    pub(crate) fn open() -> WriteGate {
        WriteGate(None)
    }

    /// Waits for this writer's turn, which lasts as long as the guard.
    pub(crate) async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.0 {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }
}

/// The handle of a store's group-commit task.
#[derive(Clone)]
pub(crate) struct Committer {
    jobs: mpsc::Sender<Job>,
    commit: std::sync::Arc<Commit>,
    /// The store's writers' turns, which the task's commits take too.
    pub(crate) gate: WriteGate,
}

impl Committer {
    /// Starts the task on the current Tokio runtime.
    pub(crate) fn start(commit: Commit, gate: WriteGate) -> Committer {
        let commit = std::sync::Arc::new(commit);
        let (jobs, mut waiting) = mpsc::channel::<Job>(QUEUE);
        let (run, turns) = (commit.clone(), gate.clone());
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let jobs = std::mem::take(&mut batch);
                let mut order: Vec<usize> = (0..jobs.len()).collect();
                order.sort_by(|&a, &b| jobs[a].write.key().cmp(&jobs[b].write.key()));
                let writes = order.iter().map(|&i| jobs[i].write.clone()).collect();
                let turn = turns.turn().await;
                let outcome = run(writes).await;
                drop(turn);
                let mut answers: Vec<Option<StoreResult<bool>>> =
                    jobs.iter().map(|_| None).collect();
                match outcome {
                    Ok(done) if done.len() == order.len() => {
                        for (&i, yes) in order.iter().zip(done) {
                            answers[i] = Some(Ok(yes));
                        }
                    }
                    Ok(_) => {
                        let e = "a batch answered for fewer writes than it had".to_owned();
                        answers
                            .iter_mut()
                            .for_each(|a| *a = Some(Err(StoreError::Backend(e.clone()))));
                    }
                    Err(e) => {
                        let e = e.to_string();
                        answers
                            .iter_mut()
                            .for_each(|a| *a = Some(Err(StoreError::Backend(e.clone()))));
                    }
                }
                for (job, answer) in jobs.into_iter().zip(answers) {
                    // A caller that gave up (its request dropped) needs no answer.
                    let _ = job.reply.send(answer.unwrap_or(Ok(false)));
                }
            }
        });
        Committer { jobs, commit, gate }
    }

    /// Runs `write` with whatever else is waiting, and answers its outcome.
    pub(crate) async fn write(&self, write: Write) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.send(Job { write, reply }).await {
            Ok(()) => answer
                .await
                .map_err(|_| StoreError::Backend("the group commit task ended".into()))?,
            // The task is gone: this write alone.
            Err(mpsc::error::SendError(job)) => {
                let _turn = self.gate.turn().await;
                let done = (self.commit)(vec![job.write]).await?;
                Ok(done.first().copied().unwrap_or(false))
            }
        }
    }
}
