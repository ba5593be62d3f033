//! Fake providers for tests (OpenAI Images, Replicate): real HTTP servers on 127.0.0.1 that speak the
//! providers' documented APIs (paths, headers, status codes, JSON shapes),
//! take a script of faults, and count generations per prompt so tests can
//! assert that nothing was generated (or charged) twice.

pub mod faults;
pub mod images;
pub mod openai;
pub mod replicate;
pub mod signing;

pub use faults::Fault;
