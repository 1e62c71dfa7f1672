//! The async SFTP client: sessions over SSH channels, the in-flight byte budget and
//! file-system operations. Transfers (pipelined reads and writes) live in `crate::transfer`.

mod budget;
mod fs;
mod session;

pub use budget::InFlightBudget;
pub use fs::{status_to_result, Handle, ReadDir};
pub use session::{Reply, ServerInfo, SftpSession};
