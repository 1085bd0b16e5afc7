//! (to come)

pub fn start_service_accounts(_t: &mut crate::Term) {}
pub fn start_root_ca(_t: &mut crate::Term) {}
