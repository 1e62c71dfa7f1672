//! Job values stored and typed by name: [`JobKind`], [`Direction`], [`JobState`],
//! [`OverwritePolicy`].
//!
//! Each value has one stable lowercase-kebab name (`overwrite-if-newer`), the same for serde,
//! `Display`, `FromStr` and the queue database (see the `as_str` methods). A name never
//! changes once released: the queue stores it and scripts type it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value read from the database (or typed by a person) that names no known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of: {expected}")]
pub struct ParseEnumError {
    /// What was being parsed: "job kind", "direction", "job state", "overwrite policy".
    pub kind: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name stored in the database (lowercase-kebab, same as serde's).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, ParseEnumError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(ParseEnumError {
                        kind: $kind,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

stored_enum! {
    /// What a job does. Fixed when the job is added; more kinds (sync, watch) come next.
    JobKind, "job kind" {
        /// Copy the source (a file or a tree) to the destination once.
        Copy => "copy",
    }
}

stored_enum! {
    /// Which way the bytes go.
    Direction, "direction" {
        /// Local → remote.
        Upload => "upload",
        /// Remote → local.
        Download => "download",
    }
}

stored_enum! {
    /// Where a job is in its life.
    JobState, "job state" {
        /// Waiting for the scheduler.
        Queued => "queued",
        /// Being transferred now.
        Running => "running",
        /// Held by the user; not picked by [`Queue::next_runnable`](crate::store::Queue::next_runnable).
        Paused => "paused",
        /// Finished with every file transferred (or skipped by policy).
        Done => "done",
        /// Stopped by an error; kept by [`Queue::clear_finished`](crate::store::Queue::clear_finished) so
        /// it can be retried.
        Failed => "failed",
        /// Stopped by the user.
        Cancelled => "cancelled",
    }
}

impl JobState {
    /// Done, Failed or Cancelled: the job will not run again unless re-queued.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Done | JobState::Failed | JobState::Cancelled
        )
    }
}

stored_enum! {
    /// What to do when the destination file already exists.
    OverwritePolicy, "overwrite policy" {
        /// Park the file and ask the front end.
        Ask => "ask",
        /// Replace it (atomically, once the new file is complete).
        Overwrite => "overwrite",
        /// Leave it and count the file as done.
        Skip => "skip",
        /// Treat it as a partial copy and continue from its length.
        Resume => "resume",
        /// Replace it only if the source's modification time is newer.
        OverwriteIfNewer => "overwrite-if-newer",
        /// Replace it only if the sizes differ.
        OverwriteIfSizeDiffers => "overwrite-if-size-differs",
        /// Write the new file under a fresh name beside it.
        Rename => "rename",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip_and_are_kebab() {
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>().unwrap(), *k);
        }
        assert_eq!(JobKind::Copy.as_str(), "copy");
        for d in Direction::ALL {
            assert_eq!(d.as_str().parse::<Direction>().unwrap(), *d);
        }
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>().unwrap(), *s);
            assert_eq!(s.to_string(), s.as_str());
        }
        for p in OverwritePolicy::ALL {
            assert_eq!(p.as_str().parse::<OverwritePolicy>().unwrap(), *p);
            assert!(p
                .as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-'));
        }
        assert_eq!(
            OverwritePolicy::OverwriteIfNewer.as_str(),
            "overwrite-if-newer"
        );
        assert_eq!(
            OverwritePolicy::OverwriteIfSizeDiffers.as_str(),
            "overwrite-if-size-differs"
        );
        let err = "sideways".parse::<Direction>().unwrap_err();
        assert!(err.to_string().contains("upload, download"), "{err}");
    }
}
