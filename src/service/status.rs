//! Operation errors as gRPC status codes: the one place the mapping is
//! decided.

use tonic::{Code, Status};

use crate::ops::{Error, Kind};

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let code = match e.kind() {
            Kind::NotFound => Code::NotFound,
            Kind::InvalidArgument => Code::InvalidArgument,
            Kind::FailedPrecondition => Code::FailedPrecondition,
            Kind::Unavailable => Code::Unavailable,
            Kind::PermissionDenied => Code::PermissionDenied,
            Kind::ResourceExhausted => Code::ResourceExhausted,
            Kind::Unauthenticated => Code::Unauthenticated,
            Kind::Internal => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}
