//! A lapin error as an attempt's result. The broker refusing what was
//! asked of it — a soft error such as `404 NOT_FOUND` (no such exchange),
//! `403 ACCESS_REFUSED` (credentials), or the hard errors that are the
//! connection's settings, `402 INVALID_PATH` (no such vhost) and `530
//! NOT_ALLOWED` — is an answer with that reply code. The broker going
//! away (`320 CONNECTION_FORCED` at shutdown, other hard errors), I/O
//! failures and broken connections are errors without an answer: they
//! count towards the breaker.

use lapin::ErrorKind;
use lapin::protocol::AMQPErrorKind;

/// Hard errors that are the connection's settings, not the broker's health.
const SETTINGS_HARD_ERRORS: [u16; 2] = [402, 530];

use crate::destinations::broker::refused;
use crate::engine::http::{SendError, SendResult};

pub fn describe(error: &lapin::Error) -> SendResult {
    match error.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(_) => refused(amqp.get_id(), amqp.get_message().to_string()),
            AMQPErrorKind::Hard(_) if SETTINGS_HARD_ERRORS.contains(&amqp.get_id()) => {
                refused(amqp.get_id(), amqp.get_message().to_string())
            }
            AMQPErrorKind::Hard(_) => Err(SendError::Connect(amqp.to_string())),
        },
        ErrorKind::IOError(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(SendError::ConnectionRefused(io.to_string()))
        }
        ErrorKind::IOError(io) => Err(SendError::Connect(io.to_string())),
        ErrorKind::InvalidConnectionState(_) | ErrorKind::InvalidChannelState(..) => {
            Err(SendError::Connect(error.to_string()))
        }
        _ => Err(SendError::Other(error.to_string())),
    }
}
