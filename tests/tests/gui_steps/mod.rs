//! Steps of the GUI end-to-end test that need more than a screenful of their own; the short
//! ones stay in `gui_e2e.rs` beside the list that runs them.

pub mod pause_resume;
pub mod responsiveness;
