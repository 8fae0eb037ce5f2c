//! A cap on simultaneous connections per peer IP address, for listeners where one address
//! is one client (the legacy raw-TCP ports): one misbehaving host cannot take every
//! connection slot. Take a [`PeerPermit`] when accepting; the connection's slot is freed when
//! the permit is dropped. When the peer is at its cap, `try_acquire` says no and the listener
//! closes the new socket at once (after a one-line error, where the protocol has one).
//!
//! The gRPC port does not use it: behind a proxy or ingress many clients share one address,
//! and there HTTP/2 stream limits, rate limits and load shedding do the job.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

#[derive(Debug, Clone)]
pub struct PeerLimiter {
    max_per_peer: usize,
    /// Open connections per address; an address with none is removed, so the map holds only
    /// peers that are connected now.
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PeerLimiter {
    pub fn new(max_per_peer: usize) -> Self {
        Self { max_per_peer, open: Arc::default() }
    }

    /// A slot for one more connection from `peer`, unless it already has `max_per_peer`.
    pub fn try_acquire(&self, peer: IpAddr) -> Option<PeerPermit> {
        // Each update is one insert or decrement: a poisoned map is still consistent.
        let mut open = crate::sync::lock(&self.open);
        let count = open.entry(peer).or_insert(0);
        if *count >= self.max_per_peer {
            if *count == 0 {
                open.remove(&peer);
            }
            return None;
        }
        *count += 1;
        Some(PeerPermit { peer, open: Arc::clone(&self.open) })
    }

    /// Open connections of `peer`.
    pub fn open(&self, peer: IpAddr) -> usize {
        crate::sync::lock(&self.open).get(&peer).copied().unwrap_or(0)
    }
}

/// One connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct PeerPermit {
    peer: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for PeerPermit {
    fn drop(&mut self) {
        let mut open = crate::sync::lock(&self.open);
        if let Some(count) = open.get_mut(&self.peer) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_peer_and_frees_slots_on_drop() {
        let limiter = PeerLimiter::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = limiter.try_acquire(a).unwrap();
        let _second = limiter.try_acquire(a).unwrap();
        assert!(limiter.try_acquire(a).is_none(), "a third connection from one peer is refused");
        assert!(limiter.try_acquire(b).is_some(), "other peers are unaffected");
        drop(first);
        assert_eq!(limiter.open(a), 1);
        assert!(limiter.try_acquire(a).is_some());
        assert!(PeerLimiter::new(0).try_acquire(a).is_none());
        assert_eq!(PeerLimiter::new(0).open(a), 0);
    }
}
