//! Events: the recorder lives in `berth-client` (shared with the scheduler); re-exported
//! here so the controllers name it `crate::events`.

pub use berth_client::events::*;
