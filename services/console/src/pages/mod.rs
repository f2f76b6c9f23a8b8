//! One module per page or group of pages. Handlers take the [`SignedIn`]
//! session, call the services through [`crate::backend`] with its
//! credential, and render with [`layout::page`]. Forms that change
//! something post the session's CSRF token ([`layout::csrf_field`]).
//!
//! [`SignedIn`]: crate::session::SignedIn

pub mod assets;
pub mod chart;
pub mod connections;
pub mod dead_letters;
pub mod deliveries;
pub mod events;
pub mod format;
pub mod layout;
pub mod overview;
pub mod rules;
pub mod schemas;
pub mod signin;

use std::sync::Arc;

use crate::ConsoleState;

/// The shared state as handlers receive it.
pub type State = axum::extract::State<Arc<ConsoleState>>;
