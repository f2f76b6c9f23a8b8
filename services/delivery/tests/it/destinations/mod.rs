//! Destination kinds end to end: the real delivery service against local
//! stand-ins that check the exact requests each API documents and answer
//! like it does, and against the real RabbitMQ and NATS servers.

mod hubspot;
mod mailchimp;
mod nats;
mod rabbitmq;
mod salesforce;
mod throughput;
