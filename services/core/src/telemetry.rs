//! Logging set-up: human-readable by default, JSON when configured, always
//! on stderr so stdout stays free for command output. `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber with `info` as the default filter; a
/// second call is a no-op (tests).
pub fn init_logging(format: LogFormat) {
    init_logging_with_default(format, "info");
}

/// Like [`init_logging`], with another default filter when `RUST_LOG` is unset.
pub fn init_logging_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
