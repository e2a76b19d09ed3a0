//! Access: who is calling (kernel identity), what they may do (policy),
//! how much (limits), and the record of it (the audit log).

pub mod audit;
pub mod caller;
pub mod limits;
pub mod policy;
