//! (to come)

pub fn start(_t: &mut crate::Term) {}
