//! Shared foundations of the b2b-auth crates, kept free of dependencies.
//!
//! - [`Clock`]: the wall-clock time source every part takes, so that token lifetimes, JWT
//!   expiry and key retirement are tested without sleeping (`b2b-auth-testkit` has a manual
//!   clock that implements it).

mod clock;

pub use clock::{Clock, SystemClock, unix_secs};
