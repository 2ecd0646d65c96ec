/// Why a value is not acceptable: the field (or query parameter) it came in, and a message
/// for the person who sent it. The HTTP layer decides the status (422 for a body field,
/// 400 for a query parameter); the domain does not know about HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
