//! The caller identity of a gRPC connection: established at accept
//! ([`Caller::of_stream`]) and attached to every request on it.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::transport::server::Connected;

use crate::access::caller::Caller;
use crate::access::limits::ConnectionSlot;
use crate::ops::Peer;

/// The identity attached to a connection (tonic hands it to every request).
#[derive(Debug, Clone)]
pub struct PeerInfo(pub Option<std::sync::Arc<Caller>>);

/// An accepted connection with its caller identity and its slot in the
/// connection limits (released when the connection closes).
pub struct PeerStream {
    // Fields drop in order: the slot is free before the socket closes, so
    // anyone who sees the connection gone can also connect again.
    _slot: ConnectionSlot,
    inner: UnixStream,
    info: PeerInfo,
}

impl PeerStream {
    /// Wraps an accepted stream with its caller (from
    /// [`Caller::of_stream`]) and its slot.
    pub fn new(inner: UnixStream, info: PeerInfo, slot: ConnectionSlot) -> Self {
        Self {
            inner,
            info,
            _slot: slot,
        }
    }
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The caller of a request, as the connection established it.
pub fn of_request<T>(req: &tonic::Request<T>) -> Peer {
    Peer(req.extensions().get::<PeerInfo>().and_then(|p| p.0.clone()))
}
