//! Copy jobs as a person asks for them: [`Copy`] is the one place a copy's [`JobSpec`] is
//! made (whichever front end asks), and [`into_folder`] is the rule of the window's panes
//! and drag and drop — each source lands inside the destination folder under its own name,
//! a folder with everything in it. (`skiff cp` follows scp's rules instead, and makes
//! [`Copy`] values too.)

use std::future::Future;
use std::path::{Path, PathBuf};

use skiff_sftp::FileAttrs;

use super::reach::Reach;
use crate::error::{Error, ErrorKind, Result};
use crate::job::{Direction, JobKind, JobSpec, OverwritePolicy};
use crate::ssh::Overrides;
use crate::transfer::{join_remote, remote_basename};

/// One copy: what moves where, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub direction: Direction,
    /// Source (upload) or destination (download).
    pub local: PathBuf,
    /// Destination (upload) or source (download).
    pub remote: String,
    /// A folder with everything in it.
    pub recursive: bool,
    pub overwrite: OverwritePolicy,
    pub preserve_mtime: bool,
    pub preserve_permissions: bool,
    /// Bytes per second for this job alone.
    pub speed_limit: Option<u64>,
}

impl Copy {
    /// A copy that replaces what is there and keeps times and permissions.
    pub fn new(direction: Direction, local: impl Into<PathBuf>, remote: impl Into<String>, recursive: bool) -> Copy {
        Copy {
            direction,
            local: local.into(),
            remote: remote.into(),
            recursive,
            overwrite: OverwritePolicy::Overwrite,
            preserve_mtime: true,
            preserve_permissions: true,
            speed_limit: None,
        }
    }

    /// The job that runs this copy over `reach`.
    pub fn spec(&self, reach: &Reach) -> JobSpec {
        let mut spec = JobSpec {
            kind: JobKind::Copy,
            direction: self.direction,
            host: String::new(),
            user: None,
            port: None,
            ssh_config: None,
            profile_id: None,
            overrides: Overrides::default(),
            local_path: self.local.clone(),
            remote_path: self.remote.clone(),
            recursive: self.recursive,
            overwrite: self.overwrite,
            preserve_mtime: self.preserve_mtime,
            preserve_permissions: self.preserve_permissions,
            speed_limit: self.speed_limit,
        };
        reach.fill_spec(&mut spec);
        spec
    }
}

/// One copy per source into `dest_dir`: a folder is copied with everything in it (into
/// `dest_dir`), a file lands as `dest_dir/NAME`. Local paths must be absolute; a remote
/// source is looked at with `stat_remote` (to tell a folder from a file).
pub async fn into_folder<F, Fut>(direction: Direction, sources: &[String], dest_dir: &str, policy: OverwritePolicy, mut stat_remote: F) -> Result<Vec<Copy>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<FileAttrs>>,
{
    let mut copies = Vec::with_capacity(sources.len());
    for source in sources {
        let copy = match direction {
            Direction::Upload => {
                let local = PathBuf::from(source);
                if !local.is_absolute() {
                    return Err(Error::new(ErrorKind::Config, "queue upload", "the source must be an absolute local path").path(source.clone()));
                }
                let meta = tokio::fs::metadata(&local).await.map_err(|e| Error::local_io("queue upload", &local, &e))?;
                let recursive = meta.is_dir();
                let remote = if recursive { dest_dir.to_string() } else { join_remote(dest_dir, local_name(&local)?) };
                Copy::new(direction, local, remote, recursive)
            }
            Direction::Download => {
                let dest = PathBuf::from(dest_dir);
                if !dest.is_absolute() {
                    return Err(Error::new(ErrorKind::Config, "queue download", "the destination must be an absolute local folder").path(dest_dir));
                }
                let attrs = stat_remote(source.clone()).await.map_err(|e| e.op("queue download"))?;
                let recursive = attrs.is_dir();
                let local = if recursive { dest } else { dest.join(remote_basename(source).map_err(|e| e.path(source.clone()))?) };
                Copy::new(direction, local, source.clone(), recursive)
            }
        };
        copies.push(Copy { overwrite: policy, ..copy });
    }
    Ok(copies)
}

/// The last component of a local path, as a remote name.
fn local_name(p: &Path) -> Result<&str> {
    p.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::new(ErrorKind::Config, "queue upload", "the name is not valid UTF-8, so it cannot be a remote name")
            .path(p.display().to_string())
            .hint("rename it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reach::Address;

    fn attrs(dir: bool) -> FileAttrs {
        FileAttrs { permissions: Some(if dir { 0o040755 } else { 0o100644 }), ..FileAttrs::default() }
    }

    #[tokio::test]
    async fn sources_land_inside_the_folder_under_their_names() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a.txt");
        std::fs::write(&file, b"x").unwrap();
        let dir = tmp.path().join("tree");
        std::fs::create_dir(&dir).unwrap();
        let sources = vec![file.display().to_string(), dir.display().to_string()];
        let up = into_folder(Direction::Upload, &sources, "/srv/in", OverwritePolicy::Skip, |_| async { unreachable!() }).await.unwrap();
        assert_eq!(up[0], Copy { overwrite: OverwritePolicy::Skip, ..Copy::new(Direction::Upload, &file, "/srv/in/a.txt", false) });
        assert_eq!((up[1].remote.as_str(), up[1].recursive), ("/srv/in", true));

        let remote = vec!["/srv/f.bin".to_string(), "/srv/d".to_string()];
        let down = into_folder(Direction::Download, &remote, &tmp.path().display().to_string(), OverwritePolicy::Overwrite, |p| async move { Ok(attrs(p.ends_with("/d"))) })
            .await
            .unwrap();
        assert_eq!((down[0].local.clone(), down[0].recursive), (tmp.path().join("f.bin"), false));
        assert_eq!((down[1].local.clone(), down[1].recursive), (tmp.path().to_path_buf(), true));
    }

    #[tokio::test]
    async fn relative_paths_and_hostile_names_are_refused() {
        let e = into_folder(Direction::Upload, &["rel".into()], "/d", OverwritePolicy::Overwrite, |_| async { unreachable!() }).await.unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
        let e = into_folder(Direction::Download, &["/srv/..".into()], "/tmp", OverwritePolicy::Overwrite, |_| async { Ok(attrs(false)) }).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
    }

    #[test]
    fn a_copy_records_how_it_connects() {
        let reach = Reach::Address(Address { host: "h".into(), port: Some(2222), ..Address::default() });
        let spec = Copy::new(Direction::Download, "/l", "r", false).spec(&reach);
        assert_eq!((spec.host.as_str(), spec.port, spec.profile_id.clone()), ("h", Some(2222), None));
    }
}
