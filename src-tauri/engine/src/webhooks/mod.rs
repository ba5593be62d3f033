//! Webhooks: a receiver on 127.0.0.1 (off by default) that verifies a
//! provider's signed deliveries, records each delivery once and wakes the
//! job's runner to poll now. Settlement stays with the runner holding the
//! lease, so a duplicate, late, out-of-order or forged delivery changes
//! nothing; polling stays on as the safety net.

pub mod receiver;
pub mod signature;
