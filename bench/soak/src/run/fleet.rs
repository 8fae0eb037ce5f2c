//! Everything the soak runs besides its clients: the server process (one life at a time),
//! the fault proxies in front of its ports and, for the scale-out setup, between it and
//! PostgreSQL and NATS, and the filesystem under its data directory.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use switchboard_soak::history::{Clock, Incarnation};

use super::{
    Doors,
    disk::TmpfsHolder,
    lock,
    proxy::FaultProxy,
    server::{LogTally, Server, ServerSpec},
};

pub struct Fleet {
    pub clock: Clock,
    pub spec: ServerSpec,
    pub logs: Arc<Mutex<LogTally>>,
    server: tokio::sync::Mutex<Option<Server>>,
    pub grpc: FaultProxy,
    pub http: FaultProxy,
    pub legacy_kv: FaultProxy,
    pub legacy_chat: FaultProxy,
    pub legacy_echo: FaultProxy,
    pub legacy_binary: FaultProxy,
    /// Between the server and PostgreSQL / NATS (scale-out only).
    pub postgres: Option<FaultProxy>,
    pub nats: Option<FaultProxy>,
    pub disk: Option<TmpfsHolder>,
    pub incarnations: Mutex<Vec<Incarnation>>,
}

impl Fleet {
    pub async fn new(
        clock: Clock,
        spec: ServerSpec,
        postgres: Option<FaultProxy>,
        nats: Option<FaultProxy>,
        disk: Option<TmpfsHolder>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            clock,
            spec,
            logs: Arc::new(Mutex::new(LogTally::default())),
            server: tokio::sync::Mutex::new(None),
            grpc: FaultProxy::start("gRPC", None).await?,
            http: FaultProxy::start("HTTP", None).await?,
            legacy_kv: FaultProxy::start("legacy KV", None).await?,
            legacy_chat: FaultProxy::start("legacy chat", None).await?,
            legacy_echo: FaultProxy::start("legacy echo", None).await?,
            legacy_binary: FaultProxy::start("binary", None).await?,
            postgres,
            nats,
            disk,
            incarnations: Mutex::new(Vec::new()),
        })
    }

    pub fn doors(&self) -> Doors {
        Doors {
            grpc: self.grpc.addr,
            http: self.http.addr,
            legacy_kv: self.legacy_kv.addr,
            legacy_chat: self.legacy_chat.addr,
            legacy_echo: self.legacy_echo.addr,
            legacy_binary: self.legacy_binary.addr,
        }
    }

    /// The proxies between the clients and the server.
    pub fn client_proxies(&self) -> [&FaultProxy; 6] {
        [&self.grpc, &self.http, &self.legacy_kv, &self.legacy_chat, &self.legacy_echo, &self.legacy_binary]
    }

    /// Starts a new life of the server and points the proxies at it.
    pub async fn start_server(&self) -> anyhow::Result<()> {
        let mut slot = self.server.lock().await;
        let server =
            Server::start(&self.spec, Arc::clone(&self.logs), &self.clock).await.context("starting switchboard")?;
        let ports = server.ports;
        self.grpc.set_upstream(Some(ports.grpc));
        self.http.set_upstream(Some(ports.http));
        self.legacy_kv.set_upstream(Some(ports.legacy_kv));
        self.legacy_chat.set_upstream(Some(ports.legacy_chat));
        self.legacy_echo.set_upstream(Some(ports.legacy_echo));
        self.legacy_binary.set_upstream(Some(ports.legacy_binary));
        *slot = Some(server);
        Ok(())
    }

    fn detach(&self) {
        for proxy in self.client_proxies() {
            proxy.set_upstream(None);
        }
    }

    /// SIGKILL; the proxies reset new connections until the next start.
    pub async fn kill(&self) -> String {
        let Some(server) = self.server.lock().await.take() else { return "no server".into() };
        self.detach();
        let incarnation = server.kill(&self.clock).await;
        let end = incarnation.end.clone();
        lock(&self.incarnations).push(incarnation);
        end
    }

    /// SIGTERM and wait for the drain.
    pub async fn terminate(&self) -> String {
        let Some(server) = self.server.lock().await.take() else { return "no server".into() };
        // New connections are refused only once the server stops accepting: the drain is
        // what is being tested, so the proxies keep pointing at it until it has exited.
        let incarnation = server.terminate(&self.clock, self.spec.shutdown_grace).await;
        self.detach();
        let end = incarnation.end.clone();
        lock(&self.incarnations).push(incarnation);
        end
    }

    /// If the server died on its own, records it and starts it again. Returns what
    /// happened.
    pub async fn watchdog(&self) -> anyhow::Result<Option<String>> {
        let died = {
            let mut slot = self.server.lock().await;
            match slot.as_mut().and_then(Server::exited) {
                Some(how) => {
                    self.detach();
                    let server = slot.take().context("the server is there")?;
                    let incarnation = server.lost(&self.clock, how.clone());
                    lock(&self.incarnations).push(incarnation);
                    Some(how)
                }
                None => None,
            }
        };
        if died.is_some() {
            self.start_server().await?;
        }
        Ok(died)
    }

    /// Open files of the running server, once the load has stopped.
    pub async fn note_fds_after_load(&self) {
        if let Some(server) = self.server.lock().await.as_mut() {
            server.note_fds_after_load();
        }
    }

    pub fn incarnations(&self) -> Vec<Incarnation> {
        lock(&self.incarnations).clone()
    }
}
