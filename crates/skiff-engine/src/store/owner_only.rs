//! Files and folders only their owner may read: the queue database (and its `-wal`/`-shm`),
//! `settings.json`. Modes are set explicitly after creation, so the result is 0600 / 0700
//! whatever the umask. A folder is only ever made private when this module created it (a
//! path given in `$SKIFF_QUEUE_DB` may sit in a shared folder such as `/tmp`, which must
//! keep its mode). On platforms without Unix modes these are plain creates.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of a private file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of a private folder.
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` and any missing parents, each one created here with mode 0700.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => set_mode(dir, DIR_MODE),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create `path` as a new, empty file with mode 0600 (fails if it exists).
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    let file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Make an existing file (not a link: its target may be anyone's) mode 0600. A missing file
/// is not an error.
pub fn restrict(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => set_mode(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// (The umask is process-wide and tests run in parallel threads, so a hostile umask is
    /// tried end to end instead: `tests/tests/file_modes.rs` runs `skiff` under umask 0222.)
    #[test]
    fn created_folders_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        create_new(&file).unwrap();
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert!(create_new(&file).is_err(), "an existing file is not replaced");
    }

    #[test]
    fn an_existing_folder_keeps_its_mode_and_a_file_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        create_dir_all(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o755);
        let f = tmp.path().join("old");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        restrict(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        restrict(&tmp.path().join("missing")).unwrap();
    }
}
