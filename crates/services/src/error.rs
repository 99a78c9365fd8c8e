//! corosync's `cs_error_t` and the errors of decoding messages.

/// corosync's `cs_error_t`, as clients receive it in response headers.
/// Success is `Ok = 1`, not 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CsError {
    Ok = 1,
    Library = 2,
    Version = 3,
    Init = 4,
    Timeout = 5,
    TryAgain = 6,
    InvalidParam = 7,
    NoMemory = 8,
    BadHandle = 9,
    Busy = 10,
    Access = 11,
    NotExist = 12,
    NameTooLong = 13,
    Exist = 14,
    NoSpace = 15,
    Interrupt = 16,
    NameNotFound = 17,
    NoResources = 18,
    NotSupported = 19,
    BadOperation = 20,
    FailedOperation = 21,
    MessageError = 22,
    QueueFull = 23,
    QueueNotAvailable = 24,
    BadFlags = 25,
    TooBig = 26,
    NoSections = 27,
    ContextNotFound = 28,
    TooManyGroups = 30,
    Security = 100,
}

impl CsError {
    /// The code for a raw value (unknown values are `Library`).
    pub fn from_raw(v: i32) -> CsError {
        use CsError::*;
        const ALL: [CsError; 30] = [
            Ok,
            Library,
            Version,
            Init,
            Timeout,
            TryAgain,
            InvalidParam,
            NoMemory,
            BadHandle,
            Busy,
            Access,
            NotExist,
            NameTooLong,
            Exist,
            NoSpace,
            Interrupt,
            NameNotFound,
            NoResources,
            NotSupported,
            BadOperation,
            FailedOperation,
            MessageError,
            QueueFull,
            QueueNotAvailable,
            BadFlags,
            TooBig,
            NoSections,
            ContextNotFound,
            TooManyGroups,
            Security,
        ];
        ALL.into_iter().find(|e| *e as i32 == v).unwrap_or(Library)
    }
}

/// A message that cannot be decoded. Nothing was changed by it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message too short: need {need} bytes, have {have}")]
    Short { need: usize, have: usize },
    #[error("header size {declared} does not match the {actual} bytes received")]
    Size { declared: i64, actual: usize },
    #[error("name of {0} bytes is too long")]
    NameTooLong(usize),
    #[error("length {0} out of range")]
    Length(u64),
    #[error("unknown message id {0:#x}")]
    UnknownId(i32),
    #[error("bad value: {0}")]
    Value(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_codes_round_trip() {
        for v in 1..=100 {
            let e = CsError::from_raw(v);
            if e != CsError::Library {
                assert_eq!(e as i32, v);
            }
        }
        assert_eq!(CsError::from_raw(6), CsError::TryAgain);
        assert_eq!(CsError::from_raw(29), CsError::Library);
    }
}
