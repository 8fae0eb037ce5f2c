//! The scale-out engines: a PostgreSQL schema of this run's own (dropped at the end, as the
//! integration tests do), and the engines' addresses, which must be on loopback.

use std::net::SocketAddr;

use anyhow::{Context, bail};

pub struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    pub async fn create(admin_url: &str, tag: &str) -> anyhow::Result<Self> {
        let name = format!("sb_soak_{tag}");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.context("creating the soak's schema")?;
        Ok(Self { admin_url: admin_url.to_owned(), name })
    }

    /// The URL a server uses to live in this schema only, reached through `via`.
    pub fn url_via(&self, via: SocketAddr) -> String {
        let url = with_authority(&self.admin_url, via);
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-c%20search_path%3D{}", self.name)
    }

    pub async fn drop(self) {
        if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)).execute(&mut conn).await;
        }
    }
}

/// Splits `scheme://[user@]host:port/rest` into (`scheme://[user@]`, `host:port`, `/rest`).
fn split(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (&url[..host_start], &url[host_start..end], &url[end..])
}

/// `url` with its `host:port` replaced by `addr`.
pub fn with_authority(url: &str, addr: SocketAddr) -> String {
    let (head, _, tail) = split(url);
    format!("{head}{addr}{tail}")
}

/// The engine's address from its URL; only loopback engines are used.
pub async fn loopback_authority(url: &str) -> anyhow::Result<SocketAddr> {
    let (_, authority, _) = split(url);
    let addr = tokio::net::lookup_host(authority)
        .await
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to nothing"))?;
    if !addr.ip().is_loopback() {
        bail!("{url}: the soak only talks to engines on loopback");
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_are_replaced() {
        let via: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            with_authority("postgres://postgres@127.0.0.1:5432/test", via),
            "postgres://postgres@127.0.0.1:9/test"
        );
        assert_eq!(with_authority("nats://127.0.0.1:4222", via), "nats://127.0.0.1:9");
    }
}
