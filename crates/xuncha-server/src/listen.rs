//! The listening socket. A phone fleet reconnects all at once — the first minute of a shift, a cell
//! tower coming back — and the standard backlog of 128 is too short for that: the kernel drops the SYNs
//! beyond it and each of those phones waits a whole second for its retry (the 1,000-device benchmark
//! showed a p95 of 1.05 s from exactly that). The server asks for [`BACKLOG`]; the kernel caps it at
//! `net.core.somaxconn` (4096 by default since Linux 5.4).

use std::io;
use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel may hold, handshake done, before the server accepts them.
pub const BACKLOG: u32 = 4096;

/// Binds `addr` (`IP:PORT` or `HOST:PORT`; port 0 picks a free one) with [`BACKLOG`] and address reuse
/// (a restarted server rebinds at once). Tries each address the name resolves to, like
/// `TcpListener::bind`.
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr} names no address"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 600 clients connect at once to a server that has not accepted any of them yet: every handshake
    /// completes at once. With the standard backlog of 128 the kernel drops the SYNs beyond it and those
    /// clients retry after a second, past this test's 700 ms.
    #[tokio::test]
    async fn six_hundred_connections_at_once_all_get_in_without_a_syn_retry() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4096);
        let n = 600.min(somaxconn as usize - 1);
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                tokio::spawn(async move {
                    tokio::time::timeout(Duration::from_millis(700), tokio::net::TcpStream::connect(addr)).await
                })
            })
            .collect();
        let mut connected = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(Ok(stream)) => connected.push(stream),
                Ok(Err(e)) => panic!("connect failed: {e}"),
                Err(_) => panic!("a connect waited over 700 ms: the backlog is too short"),
            }
        }
        assert_eq!(connected.len(), n);
        drop(listener);
    }

    #[tokio::test]
    async fn a_name_that_resolves_binds_and_a_bad_one_is_an_error() {
        assert!(bind("localhost:0").await.is_ok());
        assert!(bind("not an address").await.is_err());
    }
}
