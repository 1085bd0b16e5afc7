//! The controllers' one error enum: API answers (expected outcomes such as Conflict are
//! retried by the queue), objects the controllers cannot act on, and setup failures.

use berth_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A request failed; `action` says what was attempted ("create pod for default/web").
    #[error("failed to {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: ClientError,
    },
    /// The object cannot be acted on as it is (a bad selector, an unparsable field).
    #[error("{0}")]
    Invalid(String),
    /// Several requests of one sync failed; the first error, and how many.
    #[error("{first} (and {more} more errors)")]
    Many {
        first: Box<ControllerError>,
        more: usize,
    },
    #[error("failed to register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl ControllerError {
    /// The write was refused because this process no longer holds the Lease.
    pub fn is_fenced(&self) -> bool {
        match self {
            ControllerError::Api { source, .. } => source.is_fenced(),
            ControllerError::Many { first, .. } => first.is_fenced(),
            _ => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ControllerError::Api { source, .. } if source.is_not_found())
    }

    /// Folds the errors of a batch into one (Ok when there are none).
    pub fn collect(errors: Vec<ControllerError>) -> Result<(), ControllerError> {
        let n = errors.len();
        match errors.into_iter().next() {
            None => Ok(()),
            Some(first) if n == 1 => Err(first),
            Some(first) => Err(ControllerError::Many {
                first: Box::new(first),
                more: n - 1,
            }),
        }
    }
}

/// Adds the verb phrase to a client error.
pub trait Context<T> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, ControllerError>;
}

impl<T> Context<T> for Result<T, ClientError> {
    fn ctx(self, action: impl FnOnce() -> String) -> Result<T, ControllerError> {
        self.map_err(|source| ControllerError::Api {
            action: action(),
            source,
        })
    }
}
