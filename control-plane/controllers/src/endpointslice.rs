//! (to come)

pub fn start_slices(_t: &mut crate::Term) {}
pub fn start_endpoints(_t: &mut crate::Term) {}
