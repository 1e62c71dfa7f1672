//! The "ask" overwrite policy: putting the question "this destination exists, what now?" to
//! a person through the front end, one question at a time, and remembering an answer given
//! "for all". This module owns the question, the answer and the [`Asker`] that carries them;
//! `conflict` decides when to ask (the plan says Ask) and plans again with the answer through
//! [`plan`](super::plan::plan).

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::plan::Stamp;
use crate::error::{Error, ErrorKind, Result};
use crate::job::OverwritePolicy;

/// One file whose destination already exists.
#[derive(Debug, Clone)]
pub struct OverwriteQuestion {
    /// The destination, as shown to a person (a remote path for uploads, a local one for
    /// downloads).
    pub path: String,
    /// The file's path relative to the job's root, with `/`.
    pub rel: String,
    /// The file being copied.
    pub source: Stamp,
    /// The file already at the destination.
    pub existing: Stamp,
}

/// What the person chose: one of the concrete overwrite policies, or stopping the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverwriteChoice {
    Overwrite,
    Skip,
    Rename,
    Resume,
    OverwriteIfNewer,
    OverwriteIfSizeDiffers,
    /// Stop the whole job; files already copied stay.
    Cancel,
}

impl OverwriteChoice {
    /// The policy this answer is planned with; `None` for [`OverwriteChoice::Cancel`].
    pub fn policy(self) -> Option<OverwritePolicy> {
        Some(match self {
            OverwriteChoice::Overwrite => OverwritePolicy::Overwrite,
            OverwriteChoice::Skip => OverwritePolicy::Skip,
            OverwriteChoice::Rename => OverwritePolicy::Rename,
            OverwriteChoice::Resume => OverwritePolicy::Resume,
            OverwriteChoice::OverwriteIfNewer => OverwritePolicy::OverwriteIfNewer,
            OverwriteChoice::OverwriteIfSizeDiffers => OverwritePolicy::OverwriteIfSizeDiffers,
            OverwriteChoice::Cancel => return None,
        })
    }
}

/// The front end's reply to one question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverwriteAnswer {
    pub choice: OverwriteChoice,
    /// Use this choice for every later conflict of the job without asking.
    pub apply_to_all: bool,
}

/// A question as the front end receives it, with the sender for its answer. Dropping the
/// sender without answering fails that one file.
pub type OverwriteRequest = (OverwriteQuestion, oneshot::Sender<OverwriteAnswer>);

/// Puts overwrite questions to the front end. Cheap to clone (the clones share one memory
/// of "apply to all" and one turn to ask), so make one per job: an answer given for all
/// holds as long as the asker and its clones live.
#[derive(Clone)]
pub struct Asker {
    shared: Arc<AskerShared>,
}

struct AskerShared {
    questions: mpsc::Sender<OverwriteRequest>,
    /// The answer given "for all" (or a Cancel), once there is one.
    remembered: Mutex<Option<OverwriteChoice>>,
    /// Held while a question is open, so that concurrent conflicts queue up behind it
    /// instead of flooding the person with questions.
    turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Asker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Asker").field("remembered", &self.remembered()).finish_non_exhaustive()
    }
}

impl Asker {
    /// An asker that sends its questions down `questions`; the front end answers each on the
    /// oneshot sender that comes with it.
    pub fn new(questions: mpsc::Sender<OverwriteRequest>) -> Self {
        Asker {
            shared: Arc::new(AskerShared { questions, remembered: Mutex::new(None), turn: tokio::sync::Mutex::new(()) }),
        }
    }

    /// An asker and the receiving end its questions arrive on (at most one is open at a
    /// time, so a capacity of one is enough).
    pub fn channel() -> (Self, mpsc::Receiver<OverwriteRequest>) {
        let (tx, rx) = mpsc::channel(1);
        (Asker::new(tx), rx)
    }

    /// The choice for one conflict: the one remembered "for all", else the front end's answer
    /// (waiting for its turn while another question is open). A concrete choice, never
    /// [`OverwriteChoice::Cancel`]: a Cancel comes back as an error of kind
    /// [`ErrorKind::Cancelled`] (and every later conflict of the job gets the same). When the
    /// front end goes away without answering, this file fails.
    pub async fn ask(&self, question: OverwriteQuestion) -> Result<OverwriteChoice> {
        if let Some(choice) = self.remembered() {
            return settled(choice, &question);
        }
        let _turn = self.shared.turn.lock().await;
        // Whoever had the turn before may have answered for all.
        if let Some(choice) = self.remembered() {
            return settled(choice, &question);
        }
        let (reply, answer) = oneshot::channel();
        let path = question.path.clone();
        self.shared.questions.send((question.clone(), reply)).await.map_err(|_| nobody_answers(&path))?;
        let answer = answer.await.map_err(|_| nobody_answers(&path))?;
        if answer.apply_to_all || answer.choice == OverwriteChoice::Cancel {
            *self.shared.remembered.lock().unwrap_or_else(|p| p.into_inner()) = Some(answer.choice);
        }
        settled(answer.choice, &question)
    }

    /// The answer given for all, if any.
    pub fn remembered(&self) -> Option<OverwriteChoice> {
        *self.shared.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A choice as the result of [`Asker::ask`]: Cancel becomes the error that stops the job.
fn settled(choice: OverwriteChoice, question: &OverwriteQuestion) -> Result<OverwriteChoice> {
    match choice {
        OverwriteChoice::Cancel => Err(Error::new(ErrorKind::Cancelled, "overwrite", "the job was cancelled when asked whether to overwrite")
            .path(question.path.clone())),
        other => Ok(other),
    }
}

fn nobody_answers(path: &str) -> Error {
    Error::new(ErrorKind::Config, "ask whether to overwrite", "the destination exists and nobody answered the question (the front end went away)")
        .path(path)
        .hint("choose an overwrite policy other than \"ask\", or keep the window that asks open until the job ends")
}

/// The concrete policy for a file whose destination exists: `policy` itself, unless it is
/// Ask and there is an `asker` to put `question` to. Ask without an asker stays Ask (and
/// `conflict::settle` refuses it, as it always has).
pub(crate) async fn resolve_policy(
    policy: OverwritePolicy,
    asker: Option<&Asker>,
    question: impl FnOnce() -> OverwriteQuestion,
) -> Result<OverwritePolicy> {
    match (policy, asker) {
        (OverwritePolicy::Ask, Some(asker)) => {
            let choice = asker.ask(question()).await?;
            choice.policy().ok_or_else(|| Error::cancelled("overwrite"))
        }
        _ => Ok(policy),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn question(n: usize) -> OverwriteQuestion {
        let stamp = Stamp { size: n as u64, mtime: Some(1) };
        OverwriteQuestion { path: format!("/dest/f{n}"), rel: format!("f{n}"), source: stamp, existing: stamp }
    }

    /// Answer every question with `answer(n)` (n counts questions from 0); returns the count.
    fn responder(
        mut rx: mpsc::Receiver<OverwriteRequest>,
        answer: impl Fn(usize) -> OverwriteAnswer + Send + 'static,
    ) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let count = asked.clone();
        let task = tokio::spawn(async move {
            while let Some((_, reply)) = rx.recv().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                // Give the other conflicts time to pile up behind the open question.
                tokio::task::yield_now().await;
                let _ = reply.send(answer(n));
            }
        });
        (asked, task)
    }

    async fn ask_all(asker: &Asker, n: usize) -> Vec<Result<OverwriteChoice>> {
        futures::future::join_all((0..n).map(|i| {
            let asker = asker.clone();
            async move { asker.ask(question(i)).await }
        }))
        .await
    }

    #[tokio::test]
    async fn apply_to_all_asks_once_for_fifty_concurrent_conflicts() {
        let (asker, rx) = Asker::channel();
        let (asked, _task) = responder(rx, |_| OverwriteAnswer { choice: OverwriteChoice::Skip, apply_to_all: true });
        let results = ask_all(&asker, 50).await;
        assert!(results.iter().all(|r| matches!(r, Ok(OverwriteChoice::Skip))), "{results:?}");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(asker.remembered(), Some(OverwriteChoice::Skip));
    }

    #[tokio::test]
    async fn without_apply_to_all_each_conflict_asks() {
        let (asker, rx) = Asker::channel();
        let (asked, _task) = responder(rx, |n| OverwriteAnswer {
            choice: if n.is_multiple_of(2) { OverwriteChoice::Overwrite } else { OverwriteChoice::Rename },
            apply_to_all: false,
        });
        let results = ask_all(&asker, 20).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let overwrites = results.iter().filter(|r| matches!(r, Ok(OverwriteChoice::Overwrite))).count();
        assert_eq!(overwrites, 10);
        assert_eq!(asked.load(Ordering::SeqCst), 20);
        assert_eq!(asker.remembered(), None);
    }

    #[tokio::test]
    async fn a_dropped_reply_fails_the_file_and_a_closed_channel_too() {
        let (asker, mut rx) = Asker::channel();
        let front_end = tokio::spawn(async move {
            let (_, reply) = rx.recv().await.expect("one question");
            drop(reply);
            // Then the front end goes away altogether.
        });
        let e = asker.ask(question(1)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert_eq!(e.path.as_deref(), Some("/dest/f1"));
        assert!(e.to_string().contains("nobody answered"), "{e}");
        front_end.await.unwrap();
        let e = asker.ask(question(2)).await.unwrap_err();
        assert!(e.to_string().contains("nobody answered"), "{e}");
    }

    #[tokio::test]
    async fn cancel_stops_this_and_every_later_conflict() {
        let (asker, rx) = Asker::channel();
        let (asked, _task) = responder(rx, |_| OverwriteAnswer { choice: OverwriteChoice::Cancel, apply_to_all: false });
        let results = ask_all(&asker, 5).await;
        for r in &results {
            assert_eq!(r.as_ref().unwrap_err().kind, ErrorKind::Cancelled);
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn ask_without_an_asker_stays_ask() {
        let p = resolve_policy(OverwritePolicy::Ask, None, || question(0)).await.unwrap();
        assert_eq!(p, OverwritePolicy::Ask);
        let p = resolve_policy(OverwritePolicy::Skip, None, || question(0)).await.unwrap();
        assert_eq!(p, OverwritePolicy::Skip);
    }
}
