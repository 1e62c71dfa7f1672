//! Screenshots: numbered WebDriver (and, under a private Xvfb, root-window) shots per
//! step, and refreshing `docs/screenshots/` from them.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;

use anyhow::Result;

use super::*;

/// Screenshots, numbered in the order taken.
pub struct Shots {
    pub dir: PathBuf,
    pub(super) n: AtomicUsize,
    pub(super) root_shots: bool,
    pub(super) display: String,
    pub(super) taken: std::sync::Mutex<Vec<PathBuf>>,
}

impl Shots {
    pub fn new(display: &str) -> Result<Shots> {
        let dir = target_dir().join("e2e-screenshots");
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "png") {
                std::fs::remove_file(p)?;
            }
        }
        let root_shots = std::env::var("SKIFF_XVFB").as_deref() == Ok("1");
        Ok(Shots {
            dir,
            n: AtomicUsize::new(0),
            root_shots,
            display: display.to_string(),
            taken: Default::default(),
        })
    }

    /// The paths of the window screenshots taken so far.
    pub fn taken(&self) -> Vec<PathBuf> {
        self.taken.lock().unwrap().clone()
    }

    /// Copy the window screenshots into `docs/screenshots/` (when SKIFF_UPDATE_SCREENSHOTS=1).
    pub fn publish_if_asked(&self) -> Result<()> {
        if std::env::var("SKIFF_UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
            return Ok(());
        }
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&docs)?;
        // "NN-step.png" -> "step": numbers shift when steps come and go, names do not.
        let step_of = |p: &Path| -> Option<String> {
            let stem = p.file_stem()?.to_str()?;
            let (n, step) = stem.split_once('-')?;
            n.chars()
                .all(|c| c.is_ascii_digit())
                .then(|| step.to_string())
        };
        let fresh: Vec<PathBuf> = self
            .taken()
            .into_iter()
            .filter(|p| !p.to_string_lossy().contains("-FAILED"))
            .collect();
        let existing: Vec<PathBuf> = std::fs::read_dir(&docs)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        if existing.is_empty() {
            // First time: every window screenshot of a passed step.
            for p in &fresh {
                std::fs::copy(p, docs.join(p.file_name().unwrap()))?;
            }
            eprintln!("copied {} screenshots into {}", fresh.len(), docs.display());
            return Ok(());
        }
        // Afterwards: refresh the chosen ones in place (the README links to their names).
        let mut updated = 0;
        for old in &existing {
            let Some(step) = step_of(old) else { continue };
            match fresh.iter().find(|p| step_of(p).as_deref() == Some(step.as_str())) {
                Some(new) => {
                    std::fs::copy(new, old)?;
                    updated += 1;
                }
                None => eprintln!(
                    "WARNING: no fresh screenshot for {} (step {step:?} failed or is gone); left as it was",
                    old.display()
                ),
            }
        }
        eprintln!(
            "refreshed {updated} of {} screenshots in {} (all of this run's are in {})",
            existing.len(),
            docs.display(),
            self.dir.display()
        );
        Ok(())
    }
}
