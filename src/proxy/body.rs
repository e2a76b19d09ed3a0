//! Bodies through the proxy: request bodies small enough to send again are
//! held (so a nonce challenge can be answered), larger ones stream; both
//! directions count their bytes, and a response body writes the request's
//! audit record when it ends or is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::net::{self, Body, BoxError};

/// A request body as the proxy forwards it.
pub enum Outgoing {
    /// Held whole: may be sent again.
    Replayable(Bytes),
    /// Too large to hold: sent once, as it arrives.
    Streamed(Body),
    /// A streamed body already sent.
    Spent,
}

/// Reads at most `limit` bytes of `body`: a body that ends within them is
/// held; a longer one streams on with what was read in front.
pub async fn prepare(
    body: hyper::body::Incoming,
    limit: usize,
    counted: &Arc<AtomicU64>,
) -> Result<Outgoing, BoxError> {
    let mut body = body;
    if body.is_end_stream() {
        return Ok(Outgoing::Replayable(Bytes::new()));
    }
    let mut held = BytesMut::new();
    loop {
        if held.len() > limit {
            let rest = Counted {
                inner: body.map_err(BoxError::from).boxed(),
                count: Arc::clone(counted),
            };
            counted.fetch_add(held.len() as u64, Ordering::Relaxed);
            let front = http_body_util::Full::new(held.freeze()).map_err(|never| match never {});
            let chained = Chain {
                front: Some(front.boxed()),
                rest: rest.boxed(),
            };
            return Ok(Outgoing::Streamed(chained.boxed()));
        }
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    held.extend_from_slice(&data);
                }
            }
        }
    }
    counted.fetch_add(held.len() as u64, Ordering::Relaxed);
    Ok(Outgoing::Replayable(held.freeze()))
}

impl Outgoing {
    /// A body to send (again, when replayable); none once a streamed
    /// body has been sent.
    pub fn body(&mut self) -> Option<Body> {
        match std::mem::replace(self, Self::Spent) {
            Self::Replayable(b) => {
                *self = Self::Replayable(b.clone());
                Some(net::full(b))
            }
            Self::Streamed(body) => Some(body),
            Self::Spent => None,
        }
    }

    /// The body, when it is held whole.
    pub fn held(&self) -> Option<&Bytes> {
        match self {
            Self::Replayable(b) => Some(b),
            _ => None,
        }
    }

    /// Whether it can be sent again.
    pub fn replayable(&self) -> bool {
        matches!(self, Self::Replayable(_))
    }
}

/// A body that counts its data bytes into `count`.
pub struct Counted<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `front`, then `rest`.
struct Chain {
    front: Option<Body>,
    rest: Body,
}

impl HttpBody for Chain {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(front) = &mut self.front {
            match Pin::new(front).poll_frame(cx) {
                Poll::Ready(None) => self.front = None,
                other => return other,
            }
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}

/// Called once when a response body ends (`true`) or is dropped before
/// its end (`false`), with the bytes it carried.
pub type OnEnd = Box<dyn FnOnce(u64, bool) + Send + Sync>;

/// A response body that counts its bytes and reports its end.
pub struct Metered {
    inner: Body,
    bytes: u64,
    /// The length the upstream announced: once that much has passed, the
    /// body is complete even if its end was not polled (a server writing a
    /// Content-Length body stops reading at its length).
    length: Option<u64>,
    on_end: Option<OnEnd>,
}

impl Metered {
    /// Meters `inner`.
    pub fn new(inner: Body, on_end: OnEnd) -> Self {
        Self {
            length: inner.size_hint().exact(),
            inner,
            bytes: 0,
            on_end: Some(on_end),
        }
    }

    fn end(&mut self, complete: bool) {
        if let Some(f) = self.on_end.take() {
            f(self.bytes, complete);
        }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                if self.inner.is_end_stream() || self.length == Some(self.bytes) {
                    self.end(true);
                }
            }
            Poll::Ready(None) => self.end(true),
            Poll::Ready(Some(Err(_))) => self.end(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream() || self.length == Some(self.bytes);
        self.end(complete);
    }
}
