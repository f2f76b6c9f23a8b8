//! A shutdown signal shared by every task of a process: a [`Trigger`] trips
//! it once (on Ctrl-C, SIGTERM, or when a test drops it) and every holder of
//! a [`Signal`] stops taking new work.

use tokio::sync::watch;

/// Trips the signal when called or dropped.
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn trip(&self) {
        let _ = self.0.send(true);
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.trip();
    }
}

/// Cheap to clone; [`Signal::wait`] resolves once the trigger trips.
#[derive(Clone)]
pub struct Signal(watch::Receiver<bool>);

impl Signal {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    pub fn is_tripped(&self) -> bool {
        *self.0.borrow()
    }
}

/// A new trigger and the signal it trips.
pub fn channel() -> (Trigger, Signal) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Signal(receiver))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn os_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
