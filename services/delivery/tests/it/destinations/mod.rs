//! Destination kinds end to end: the real delivery service against local
//! stand-ins that check the exact requests each API documents and answer
//! like it does.

mod hubspot;
mod mailchimp;
mod salesforce;
mod throughput;
