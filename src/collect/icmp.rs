//! ICMP echo probes on shared sockets (one per address family, receive buffer raised so a
//! burst of replies is never dropped): RTTs per echo, replies matched by id/sequence, and a
//! permission problem reported as such — never as "host down".

use crate::config::{IcmpTarget, Target};
use crate::model::IcmpProbe;

/// The shared ICMP sockets; cheap to clone.
#[derive(Clone)]
pub struct IcmpClients {
    _private: (),
}

impl IcmpClients {
    /// Sockets open lazily on first use; failing to open one is reported per probe.
    pub fn new() -> IcmpClients {
        todo!("icmp helper")
    }
}

impl Default for IcmpClients {
    fn default() -> Self {
        Self::new()
    }
}

/// Send `count` echo requests, spread over the target's timeout, and collect the replies.
pub async fn probe(clients: &IcmpClients, target: &Target, icmp: &IcmpTarget) -> IcmpProbe {
    let _ = (clients, target, icmp);
    todo!("icmp helper")
}
