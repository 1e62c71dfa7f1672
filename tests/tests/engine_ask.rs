//! The "ask" overwrite policy of tree transfers against a real sshd, driven through the
//! engine: a responder task plays the person. One answer "for all" is asked once and holds
//! for every conflict; answers given one by one apply to their own file; the files without
//! a conflict keep moving while a question is open; downloads rename to `name (1).ext`.
//! Single-file jobs run by the scheduler ask and apply the answer the same way. A run that
//! continues an earlier one does not ask about the copies that run made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use skiff_engine::job::OverwritePolicy;
use skiff_engine::ssh::{ConnectOptions, NoPrompter, SshConfig};
use skiff_engine::transfer::{
    download_tree, upload_tree, Asker, OverwriteAnswer, OverwriteChoice, OverwriteRequest, Progress, TransferOptions,
    TreeOptions, TreeReport,
};
use skiff_tests::sshd::{Sshd, HOST_ALIAS};
use tokio::sync::mpsc;

const FILES: usize = 20;
const CONFLICTS: usize = 10;

/// How the engine reaches the fixture: its ssh_config, resolved for the test alias.
fn connect_options(sshd: &Sshd) -> ConnectOptions {
    let config = SshConfig::load(&sshd.ssh_config).expect("read the fixture's ssh_config");
    let host = config.resolve(HOST_ALIAS);
    ConnectOptions::new(host, Arc::new(NoPrompter), Arc::new(config))
}

fn name(i: usize) -> String {
    format!("f{i:02}.txt")
}

/// The job's content of file `i` (sizes differ from the stale copies).
fn fresh(i: usize) -> String {
    format!("fresh content of file {i}\n").repeat(i + 3)
}

fn stale(i: usize) -> String {
    format!("stale {i}\n")
}

/// `FILES` fresh files in `dir`, and stale copies of the first `CONFLICTS` in `existing`.
fn make_conflicting(dir: &Path, existing: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::create_dir_all(existing).unwrap();
    for i in 0..FILES {
        std::fs::write(dir.join(name(i)), fresh(i)).unwrap();
    }
    for i in 0..CONFLICTS {
        std::fs::write(existing.join(name(i)), stale(i)).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The person: answers each question with `answer(n, rel)` (n counts questions from 0), but
/// only once every path in `first_wait_for` exists, which shows that the files without a
/// conflict keep moving while a question is open. Returns the questions asked, by relative
/// path, with the choice given.
fn responder(
    mut questions: mpsc::Receiver<OverwriteRequest>,
    first_wait_for: Vec<PathBuf>,
    answer: impl Fn(usize, &str) -> OverwriteAnswer + Send + 'static,
) -> tokio::task::JoinHandle<Vec<(String, OverwriteChoice)>> {
    tokio::spawn(async move {
        let mut asked = Vec::new();
        while let Some((q, reply)) = questions.recv().await {
            assert_ne!(q.source, q.existing, "{q:?}");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while !first_wait_for.iter().all(|p| p.exists()) {
                assert!(tokio::time::Instant::now() < deadline, "the other files stalled while a question was open");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let a = answer(asked.len(), &q.rel);
            asked.push((q.rel.clone(), a.choice));
            reply.send(a).expect("the file waits for its answer");
        }
        asked
    })
}

fn ask_options(asker: Asker) -> TreeOptions {
    TreeOptions { overwrite: OverwritePolicy::Ask, asker: Some(asker), ..TreeOptions::default() }
}

/// Upload `src` into the remote folder `dest` with `tree`; a hung job fails the test.
async fn upload(sshd: &Sshd, src: &Path, dest: &Path, tree: &TreeOptions) -> skiff_engine::Result<TreeReport> {
    let (opts, t) = (connect_options(sshd), TransferOptions::default());
    let job = upload_tree(&opts, src, dest.to_str().unwrap(), &t, tree, Arc::new(Progress::new()));
    tokio::time::timeout(Duration::from_secs(120), job).await.expect("the job hung")
}

/// Download the remote folder `src` into `dest` with `tree`; a hung job fails the test.
async fn download(sshd: &Sshd, src: &Path, dest: &Path, tree: &TreeOptions) -> skiff_engine::Result<TreeReport> {
    let (opts, t) = (connect_options(sshd), TransferOptions::default());
    let job = download_tree(&opts, src.to_str().unwrap(), dest, &t, tree, Arc::new(Progress::new()));
    tokio::time::timeout(Duration::from_secs(120), job).await.expect("the job hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_skip_for_all_asks_once_and_keeps_the_existing_files() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    let dest = sshd.root.join("dest");
    make_conflicting(&src, &dest.join("src"));
    let new_files = (CONFLICTS..FILES).map(|i| dest.join("src").join(name(i))).collect();

    let (asker, questions) = Asker::channel();
    let person = responder(questions, new_files, |_, _| OverwriteAnswer { choice: OverwriteChoice::Skip, apply_to_all: true });
    let tree = ask_options(asker);
    let report = upload(&sshd, &src, &dest, &tree).await.expect("the job failed");
    drop(tree);
    let asked = person.await.unwrap();

    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.files, report.skipped), ((FILES - CONFLICTS) as u64, CONFLICTS as u64));
    for i in 0..FILES {
        let want = if i < CONFLICTS { stale(i) } else { fresh(i) };
        assert_eq!(read(&dest.join("src").join(name(i))), want, "{}", name(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_answers_one_by_one_apply_to_their_own_file() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    let dest = sshd.root.join("dest");
    make_conflicting(&src, &dest.join("src"));

    let (asker, questions) = Asker::channel();
    let alternate = |n: usize, _: &str| OverwriteAnswer {
        choice: if n.is_multiple_of(2) { OverwriteChoice::Overwrite } else { OverwriteChoice::Skip },
        apply_to_all: false,
    };
    let person = responder(questions, Vec::new(), alternate);
    let tree = ask_options(asker);
    let report = upload(&sshd, &src, &dest, &tree).await.expect("the job failed");
    drop(tree);
    let asked: BTreeMap<String, OverwriteChoice> = person.await.unwrap().into_iter().collect();

    let conflicts: Vec<String> = (0..CONFLICTS).map(name).collect();
    assert_eq!(asked.keys().cloned().collect::<Vec<_>>(), conflicts, "each conflict is asked about once");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.skipped, (CONFLICTS / 2) as u64);
    assert_eq!(report.files, (FILES - CONFLICTS / 2) as u64);
    for i in 0..FILES {
        let want = match asked.get(&name(i)) {
            Some(OverwriteChoice::Skip) => stale(i),
            Some(OverwriteChoice::Overwrite) | None => fresh(i),
            Some(other) => panic!("unexpected choice {other:?}"),
        };
        assert_eq!(read(&dest.join("src").join(name(i))), want, "{}", name(i));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_rename_for_all_lands_beside_the_existing_files() {
    let sshd = Sshd::start().unwrap();
    let remote_src = sshd.root.join("rsrc");
    let local = tempfile::tempdir().unwrap();
    let dest = local.path().join("dest");
    make_conflicting(&remote_src, &dest.join("rsrc"));
    let new_files = (CONFLICTS..FILES).map(|i| dest.join("rsrc").join(name(i))).collect();

    let (asker, questions) = Asker::channel();
    let person = responder(questions, new_files, |_, _| OverwriteAnswer { choice: OverwriteChoice::Rename, apply_to_all: true });
    let tree = ask_options(asker);
    let report = download(&sshd, &remote_src, &dest, &tree).await.expect("the job failed");
    drop(tree);
    let asked = person.await.unwrap();

    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.files, report.skipped), (FILES as u64, 0));
    let got = dest.join("rsrc");
    for i in 0..FILES {
        if i < CONFLICTS {
            assert_eq!(read(&got.join(name(i))), stale(i), "{} was left alone", name(i));
            assert_eq!(read(&got.join(format!("f{i:02} (1).txt"))), fresh(i), "{} arrived renamed", name(i));
        } else {
            assert_eq!(read(&got.join(name(i))), fresh(i), "{}", name(i));
            assert!(!got.join(format!("f{i:02} (1).txt")).exists(), "{} was renamed without a conflict", name(i));
        }
    }
    assert_eq!(std::fs::read_dir(&got).unwrap().count(), FILES + CONFLICTS, "no stray files (.skiffpart)");
}

/// The person cancels: the job stops with a Cancelled error instead of going on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_job() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    let dest = sshd.root.join("dest");
    make_conflicting(&src, &dest.join("src"));

    let (asker, questions) = Asker::channel();
    let person = responder(questions, Vec::new(), |_, _| OverwriteAnswer { choice: OverwriteChoice::Cancel, apply_to_all: false });
    let tree = ask_options(asker);
    let e = upload(&sshd, &src, &dest, &tree).await.expect_err("the job went on");
    drop(tree);
    assert_eq!(e.kind, skiff_engine::ErrorKind::Cancelled, "{e}");
    assert_eq!(person.await.unwrap().len(), 1);
    for i in 0..CONFLICTS {
        assert_eq!(read(&dest.join("src").join(name(i))), stale(i), "{}", name(i));
    }
}

/// A question whose reply is dropped fails that file alone, with a message naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_question_fails_only_its_file() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    let dest = sshd.root.join("dest");
    make_conflicting(&src, &dest.join("src"));

    let (asker, questions) = Asker::channel();
    drop(questions); // the front end went away
    let tree = ask_options(asker);
    let report = upload(&sshd, &src, &dest, &tree).await.expect("the job failed");
    assert_eq!(report.errors.len(), CONFLICTS, "{:?}", report.errors);
    assert_eq!(report.files, (FILES - CONFLICTS) as u64);
    for m in report.errors.iter().map(|e| e.to_string()) {
        assert!(m.contains("nobody answered") && m.contains("127.0.0.1") && m.contains("/dest/src/f0"), "{m}");
    }
}

/// Single files (not `-r`) go by the same policy: through the scheduler and its real runner,
/// each conflicting file raises one question and the answer is applied to it (Skip keeps the
/// destination and reports the file skipped, Rename lands beside it, Overwrite replaces it),
/// in both directions; a file without a conflict is not asked about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_files_ask_and_honour_the_answer() {
    use skiff_engine::scheduler::{Config, ConnectFor, Event, Scheduler, SftpJobRunner};
    use skiff_engine::job::{Direction, JobKind, JobSpec, JobState};
    use skiff_engine::store::Queue;

    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let remote = sshd.root.join("single");
    std::fs::create_dir(&remote).unwrap();
    // Uploads: f00 (skip), f01 (rename), f02 (overwrite), f03 (no conflict).
    // Downloads: f04 (skip), f05 (rename), f06 (overwrite).
    let answers = [OverwriteChoice::Skip, OverwriteChoice::Rename, OverwriteChoice::Overwrite];
    let mut specs = Vec::new();
    let spec = |direction, local: &Path, remote: &Path| JobSpec {
        kind: JobKind::Copy,
        direction,
        host: skiff_tests::sshd::HOST_ALIAS.into(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: local.to_path_buf(),
        remote_path: remote.display().to_string(),
        recursive: false,
        overwrite: OverwritePolicy::Ask,
        preserve_mtime: true,
        preserve_permissions: true,
        speed_limit: None,
    };
    for i in 0..4 {
        std::fs::write(local.path().join(name(i)), fresh(i)).unwrap();
        if i < 3 {
            std::fs::write(remote.join(name(i)), stale(i)).unwrap();
        }
        specs.push(spec(Direction::Upload, &local.path().join(name(i)), &remote.join(name(i))));
    }
    for i in 4..7 {
        std::fs::write(remote.join(name(i)), fresh(i)).unwrap();
        std::fs::write(local.path().join(name(i)), stale(i)).unwrap();
        specs.push(spec(Direction::Download, &local.path().join(name(i)), &remote.join(name(i))));
    }

    let opts = connect_options(&sshd);
    #[allow(clippy::result_large_err)] // the engine's own error type
    let connect: ConnectFor = Arc::new(move |_: &JobSpec| Ok(opts.clone()));
    let runner = Arc::new(SftpJobRunner { connect, transfer: TransferOptions::default(), tree: TreeOptions::default() });
    let queue = Arc::new(Queue::open_in_memory().unwrap());
    let (sched, task) = Scheduler::start(queue, runner, Config { can_ask: true, ..Config::default() }).unwrap();
    let mut events = sched.subscribe();
    let ids: Vec<_> = specs.iter().map(|s| sched.add(s, 0).unwrap()).collect();
    let which = |job| ids.iter().position(|&id| id == job).expect("a job of this test");
    let mut asked = BTreeMap::new();
    let person = async {
        while asked.len() < 6 {
            if let Ok(Event::OverwriteAsked { question, job, rel, .. }) = events.recv().await {
                let i = which(job);
                assert_ne!(i, 3, "f03 has no conflict");
                assert_eq!(rel, name(i), "the question names the file");
                let choice = if i < 4 { answers[i] } else { answers[i - 4] };
                asked.insert(i, choice);
                sched.answer(question, OverwriteAnswer { choice, apply_to_all: false }).unwrap();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), person).await.expect("six questions");
    tokio::time::timeout(Duration::from_secs(120), sched.idle()).await.expect("the jobs hung");

    let mut skipped = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let outcome = sched.take_outcome(*id).expect("the job ran");
        assert_eq!(outcome.state, JobState::Done, "job {i}: {:?}", outcome.error.map(|e| e.to_string()));
        if outcome.report.expect("a report").skipped == 1 {
            skipped.push(i);
        }
    }
    sched.shutdown();
    let _ = task.await;

    assert!(!asked.contains_key(&3), "f03 had no conflict: {asked:?}");
    assert_eq!(skipped, vec![0, 4]);
    // Uploads.
    assert_eq!(read(&remote.join(name(0))), stale(0), "skip keeps the destination");
    assert_eq!(read(&remote.join(name(1))), stale(1), "rename keeps the destination");
    assert_eq!(read(&remote.join("f01 (1).txt")), fresh(1), "rename lands beside it");
    assert_eq!(read(&remote.join(name(2))), fresh(2), "overwrite replaces it");
    assert_eq!(read(&remote.join(name(3))), fresh(3));
    // Downloads.
    assert_eq!(read(&local.path().join(name(4))), stale(4), "skip keeps the destination");
    assert_eq!(read(&local.path().join(name(5))), stale(5), "rename keeps the destination");
    assert_eq!(read(&local.path().join("f05 (1).txt")), fresh(5), "rename lands beside it");
    assert_eq!(read(&local.path().join(name(6))), fresh(6), "overwrite replaces it");
}

/// A run that continues an earlier one of the same job (after a pause, a crash or a retry)
/// finds the files the earlier run finished but had not yet recorded: identical in size
/// and modification time, they count as done. Only a destination that really differs is
/// asked about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continued_run_counts_its_own_copies_as_done_and_asks_only_about_the_rest() {
    let sshd = Sshd::start().unwrap();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    make_conflicting(&src, &local.path().join("unused"));
    let first = TreeOptions::default();

    // Upload: the first run copied everything; then one copy changed and one vanished.
    let dest = sshd.root.join("up");
    std::fs::create_dir(&dest).unwrap();
    upload(&sshd, &src, &dest, &first).await.expect("the first run failed");
    let root = dest.join("src");
    std::fs::write(root.join(name(3)), stale(3)).unwrap();
    std::fs::remove_file(root.join(name(5))).unwrap();
    let (asker, questions) = Asker::channel();
    let person = responder(questions, Vec::new(), |_, _| OverwriteAnswer { choice: OverwriteChoice::Overwrite, apply_to_all: false });
    let continued = TreeOptions { exact_root: true, ..ask_options(asker) };
    let report = upload(&sshd, &src, &root, &continued).await.expect("the continued run failed");
    drop(continued);
    let asked = person.await.unwrap();
    assert_eq!(asked, vec![(name(3), OverwriteChoice::Overwrite)], "upload asked about its own copies");
    assert_eq!((report.files, report.skipped), (2, FILES as u64 - 2), "{report:?}");
    for i in 0..FILES {
        assert_eq!(read(&root.join(name(i))), fresh(i));
    }

    // Download: the same from the server's copy.
    let back = local.path().join("back");
    std::fs::create_dir(&back).unwrap();
    download(&sshd, &root, &back, &first).await.expect("the first run failed");
    let root = back.join("src");
    std::fs::write(root.join(name(7)), stale(7)).unwrap();
    std::fs::remove_file(root.join(name(8))).unwrap();
    let (asker, questions) = Asker::channel();
    let person = responder(questions, Vec::new(), |_, _| OverwriteAnswer { choice: OverwriteChoice::Overwrite, apply_to_all: false });
    let continued = TreeOptions { exact_root: true, ..ask_options(asker) };
    let report = download(&sshd, &sshd.root.join("up/src"), &root, &continued).await.expect("the continued run failed");
    drop(continued);
    let asked = person.await.unwrap();
    assert_eq!(asked, vec![(name(7), OverwriteChoice::Overwrite)], "download asked about its own copies");
    assert_eq!((report.files, report.skipped), (2, FILES as u64 - 2), "{report:?}");
    for i in 0..FILES {
        assert_eq!(read(&root.join(name(i))), fresh(i));
    }
}
