//! The async SFTP client: sessions over SSH channels (`session`: reader and writer tasks;
//! `requests`: the sans-IO request table they route replies through), the in-flight byte
//! budget and file-system operations. Transfers (pipelined reads and writes) live in `crate::transfer`.

mod budget;
mod fs;
mod requests;
mod session;

pub use budget::InFlightBudget;
pub use fs::{status_to_result, Handle, ReadDir};
pub use session::{Reply, ServerInfo, SftpSession};
