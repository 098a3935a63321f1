//! A tiny authoritative DNS responder on loopback UDP, scripted per name: plain answers,
//! CNAME chains, NXDOMAIN, SERVFAIL, truncation, silence, and rebinding (answers that change
//! after the first queries). It counts queries so tests can prove nothing re-resolves.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::sealed::SealedNet;
use super::{TestingError, ensure_loopback};

/// How the responder answers one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsBehavior {
    /// These addresses (A and AAAA are split by type), TTL 60.
    Addresses(Vec<IpAddr>),
    /// A CNAME to another name in the zone; the chain is followed in the same answer.
    Cname(String),
    /// NXDOMAIN.
    NxDomain,
    /// SERVFAIL.
    ServFail,
    /// An empty answer with the TC bit set (and no TCP service to retry on).
    Truncated,
    /// No reply at all (the resolver times out).
    Silent,
    /// `first` for the first `first_queries` queries, then `then`, all with TTL 0.
    Rebind {
        /// Answers while the count is below `first_queries`.
        first: Vec<IpAddr>,
        /// Queries (A and AAAA each count) answered with `first`.
        first_queries: usize,
        /// Answers afterwards.
        then: Vec<IpAddr>,
    },
}

#[derive(Default)]
struct Zone {
    names: HashMap<String, DnsBehavior>,
    queries: HashMap<String, usize>,
}

/// The running responder; it stops when dropped.
pub struct DnsResponder {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: JoinHandle<()>,
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Longest CNAME chain followed when building an answer.
const MAX_CHAIN: usize = 8;

impl DnsResponder {
    /// Binds `ip:0` (loopback only) and starts answering.
    pub async fn start(ip: IpAddr) -> Result<DnsResponder, TestingError> {
        ensure_loopback(ip)?;
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        DnsResponder::run(socket)
    }

    /// Binds `addr` — any address, e.g. an "internal" resolver address on the sealed
    /// namespace's `lo` — and starts answering. Only possible inside a [`SealedNet`].
    pub async fn start_sealed(
        _sealed: &SealedNet,
        addr: SocketAddr,
    ) -> Result<DnsResponder, TestingError> {
        let socket = UdpSocket::bind(addr).await?;
        DnsResponder::run(socket)
    }

    fn run(socket: UdpSocket) -> Result<DnsResponder, TestingError> {
        let addr = socket.local_addr()?;
        let zone = Arc::new(Mutex::new(Zone::default()));
        let task_zone = zone.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let Some(reply) = answer(&task_zone, &buf[..len]) else {
                    continue;
                };
                let _ = socket.send_to(&reply, from).await;
            }
        });
        Ok(DnsResponder { addr, zone, task })
    }

    /// Where to point the resolver.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets how `name` is answered (replacing any earlier behaviour and its query count).
    pub fn set(&self, name: &str, behavior: DnsBehavior) {
        if let Ok(mut zone) = self.zone.lock() {
            zone.names.insert(key(name), behavior);
            zone.queries.remove(&key(name));
        }
    }

    /// Queries received for `name` so far (A and AAAA each count).
    pub fn queries(&self, name: &str) -> usize {
        self.zone
            .lock()
            .map(|z| z.queries.get(&key(name)).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn answer(zone: &Mutex<Zone>, packet: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let query = request.queries.first()?.clone();
    let mut response = Message::response(request.metadata.id, OpCode::Query);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.add_query(query.clone());
    let qtype = query.query_type();
    let mut zone = zone.lock().ok()?;
    let mut name = key(&query.name().to_ascii());
    *zone.queries.entry(name.clone()).or_insert(0) += 1;
    let mut owner = query.name().clone();
    for _ in 0..MAX_CHAIN {
        let count = zone.queries.get(&name).copied().unwrap_or(0);
        match zone.names.get(&name).cloned() {
            None | Some(DnsBehavior::NxDomain) => {
                if response.answers.is_empty() {
                    response.metadata.response_code = ResponseCode::NXDomain;
                }
                break;
            }
            Some(DnsBehavior::ServFail) => {
                response.metadata.response_code = ResponseCode::ServFail;
                break;
            }
            Some(DnsBehavior::Truncated) => {
                response.metadata.truncation = true;
                break;
            }
            Some(DnsBehavior::Silent) => return None,
            Some(DnsBehavior::Addresses(addrs)) => {
                push_addresses(&mut response, &owner, qtype, &addrs, 60);
                break;
            }
            Some(DnsBehavior::Rebind {
                first,
                first_queries,
                then,
            }) => {
                let addrs = if count <= first_queries { first } else { then };
                push_addresses(&mut response, &owner, qtype, &addrs, 0);
                break;
            }
            Some(DnsBehavior::Cname(target)) => {
                let target_name = Name::from_ascii(format!("{}.", key(&target))).ok()?;
                response.add_answer(Record::from_rdata(
                    owner.clone(),
                    60,
                    RData::CNAME(CNAME(target_name.clone())),
                ));
                owner = target_name;
                name = key(&target);
            }
        }
    }
    response.to_vec().ok()
}

fn push_addresses(
    response: &mut Message,
    owner: &Name,
    qtype: RecordType,
    addrs: &[IpAddr],
    ttl: u32,
) {
    for addr in addrs {
        let data = match (addr, qtype) {
            (IpAddr::V4(v4), RecordType::A) => RData::A(A(*v4)),
            (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(*v6)),
            _ => continue,
        };
        response.add_answer(Record::from_rdata(owner.clone(), ttl, data));
    }
}
