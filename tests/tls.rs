//! TLS and mutual TLS with certificates made at test time (rcgen): a tonic client and the
//! real grpcurl, with `-cacert`, `-cert` and `-key` as operators use it.

mod common;

use std::{net::SocketAddr, path::PathBuf, process::Stdio, time::Duration};

use common::{TestServer, grpcurl::grpcurl, test_config};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use switchboard::pb::{EchoRequest, echo_service_client::EchoServiceClient};
use tempfile::TempDir;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, as PEM
/// files in a temporary directory.
struct Pki {
    dir: TempDir,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Switchboard test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |names: Vec<String>, purpose: ExtendedKeyUsagePurpose, cn: &str| {
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![purpose];
            params.use_authority_key_identifier_extension = true;
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) =
            leaf(vec!["localhost".into(), "127.0.0.1".into()], ExtendedKeyUsagePurpose::ServerAuth, "localhost");
        let (client_cert, client_key) = leaf(vec!["client.test".into()], ExtendedKeyUsagePurpose::ClientAuth, "client");

        let dir = tempfile::tempdir().unwrap();
        let pki = Self { dir, ca_pem: ca_cert.pem(), client_cert_pem: client_cert, client_key_pem: client_key };
        for (name, pem) in [
            ("ca.pem", pki.ca_pem.as_str()),
            ("server.pem", &server_cert),
            ("server.key", &server_key),
            ("client.pem", &pki.client_cert_pem),
            ("client.key", &pki.client_key_pem),
        ] {
            std::fs::write(pki.path(name), pem).unwrap();
        }
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn server(&self, mutual: bool) -> TestServer {
        let mut config = test_config();
        config.tls_cert = Some(self.path("server.pem"));
        config.tls_key = Some(self.path("server.key"));
        if mutual {
            config.tls_client_ca = Some(self.path("ca.pem"));
        }
        let server = switchboard::server::start(config).await.expect("TLS server starts");
        let channel = self.channel(server.grpc_addr(), mutual).await.expect("TLS client connects");
        TestServer { server, channel }
    }

    async fn channel(&self, addr: SocketAddr, with_client_cert: bool) -> Result<Channel, tonic::transport::Error> {
        let mut tls =
            ClientTlsConfig::new().domain_name("localhost").ca_certificate(Certificate::from_pem(&self.ca_pem));
        if with_client_cert {
            tls = tls.identity(Identity::from_pem(&self.client_cert_pem, &self.client_key_pem));
        }
        Endpoint::from_shared(format!("https://{addr}"))
            .unwrap()
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect()
            .await
    }
}

async fn echo(channel: Channel) -> Result<String, tonic::Status> {
    let reply = EchoServiceClient::new(channel).echo(EchoRequest { message: "over tls".into() }).await?;
    Ok(reply.into_inner().message)
}

#[tokio::test]
async fn tls_with_a_tonic_client() {
    let pki = Pki::new();
    let server = pki.server(false).await;
    assert_eq!(echo(server.channel.clone()).await.unwrap(), "over tls");

    // A plaintext client gets nowhere.
    let plaintext = Endpoint::from_shared(format!("http://{}", server.addr()))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(channel) = plaintext {
        assert!(echo(channel).await.is_err(), "a plaintext call to a TLS port must fail");
    }
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_a_certificate() {
    let pki = Pki::new();
    let server = pki.server(true).await;
    assert_eq!(echo(server.channel.clone()).await.unwrap(), "over tls");

    // rustls clients finish their side of the handshake before the server's refusal arrives,
    // so the refusal shows either at connect or at the first call.
    match pki.channel(server.addr(), false).await {
        Err(_) => {}
        Ok(channel) => {
            let status = echo(channel).await.expect_err("a client without a certificate is refused");
            assert_ne!(status.code(), tonic::Code::Ok);
        }
    }
}

/// Runs `grpcurl <flags> 127.0.0.1:<port> list` and returns (success, output).
async fn grpcurl_list(addr: SocketAddr, flags: &[&str]) -> (bool, String) {
    let binary = tokio::task::spawn_blocking(grpcurl)
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("grpcurl is not available, so this test cannot run: {error}"));
    let output = tokio::process::Command::new(binary)
        .args(["-max-time", "10"])
        .args(flags)
        .arg(addr.to_string())
        .arg("list")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn grpcurl_over_tls_and_mutual_tls() {
    let pki = Pki::new();
    let (ca, cert, key) = (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let (ca, cert, key) = (ca.to_str().unwrap(), cert.to_str().unwrap(), key.to_str().unwrap());

    let server = pki.server(false).await;
    let (ok, out) = grpcurl_list(server.addr(), &["-cacert", ca]).await;
    assert!(ok && out.contains("switchboard.v1.EchoService"), "grpcurl -cacert: {out}");
    let (ok, out) = grpcurl_list(server.addr(), &["-connect-timeout", "3"]).await;
    assert!(!ok, "an untrusted certificate is refused by grpcurl: {out}");

    let server = pki.server(true).await;
    let (ok, out) = grpcurl_list(server.addr(), &["-cacert", ca, "-cert", cert, "-key", key]).await;
    assert!(ok && out.contains("switchboard.v1.EchoService"), "grpcurl with a client certificate: {out}");
    // grpc-go may take the refusal (a TLS 1.3 alert after its handshake) for a transient error
    // and redial until its connect timeout: keep that short.
    let (ok, out) = grpcurl_list(server.addr(), &["-connect-timeout", "3", "-cacert", ca]).await;
    assert!(!ok, "grpcurl without a client certificate is refused under mTLS: {out}");
}

/// Runs `curl <flags> https://localhost:<port>/v1/ping` (the name the certificate is for) and
/// returns (HTTP status or 0 when the connection failed, curl's output).
async fn curl_ping(addr: SocketAddr, flags: &[&str]) -> (u16, String) {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
        .args(["--resolve", &format!("localhost:{}:127.0.0.1", addr.port())])
        .args(flags)
        .arg(format!("https://localhost:{}/v1/ping", addr.port()))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("curl is installed");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (text.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(0), text)
}

/// The HTTP front door serves HTTPS with the gRPC port's certificate (HTTP/2 by ALPN, and
/// HTTP/1.1), and under mTLS refuses a client without a certificate, as the gRPC port does.
#[tokio::test(flavor = "multi_thread")]
async fn the_http_port_speaks_tls_and_mutual_tls_too() {
    let pki = Pki::new();
    let (ca, cert, key) = (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let (ca, cert, key) = (ca.to_str().unwrap(), cert.to_str().unwrap(), key.to_str().unwrap());

    let server = pki.server(false).await;
    let http = server.server.http_addr().expect("the HTTP listener is on");
    let (status, out) = curl_ping(http, &["--cacert", ca]).await;
    assert_eq!(status, 200, "HTTPS with the CA: {out}");
    assert!(out.contains(" 2"), "HTTP/2 negotiated by ALPN: {out}");
    let (status, out) = curl_ping(http, &["--cacert", ca, "--http1.1"]).await;
    assert_eq!(status, 200, "HTTPS over HTTP/1.1: {out}");
    let (status, out) = curl_ping(http, &[]).await;
    assert_eq!(status, 0, "an untrusted certificate is refused: {out}");
    let plaintext = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{http}/v1/ping")])
        .output()
        .await
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plaintext.stdout), "200", "plaintext HTTP to a TLS port gets nowhere");

    let server = pki.server(true).await;
    let http = server.server.http_addr().unwrap();
    let (status, out) = curl_ping(http, &["--cacert", ca, "--cert", cert, "--key", key]).await;
    assert_eq!(status, 200, "with a client certificate: {out}");
    let (status, out) = curl_ping(http, &["--cacert", ca]).await;
    assert_ne!(status, 200, "without a client certificate under mTLS: {out}");
}
