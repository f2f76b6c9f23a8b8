//! Which addresses outbound requests may reach (SSRF guard).
//!
//! Only public unicast addresses are allowed, plus the networks operators
//! list in `allowed_destination_networks`. A URL is checked when a
//! connection is created ([`DestinationPolicy::check_url`]) and again at
//! every connect: [`GuardedResolver`] is the DNS resolver of the delivery
//! HTTP client, so a name that later resolves to a private address (DNS
//! rebinding) is refused too. IP-literal URLs skip DNS, so the delivery
//! engine also calls [`DestinationPolicy::check_literal`] before sending.
//! With `https_only`, `http://` URLs are refused by both checks. Broker
//! hosts (RabbitMQ, NATS) are resolved by
//! [`DestinationPolicy::resolve_all_permitted`] and connected to by address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::{Host, Url};

use switchyard_core::config::Config;

#[derive(Clone, Debug, Default)]
pub struct DestinationPolicy {
    allowed: Arc<Vec<IpNet>>,
    https_only: bool,
}

impl DestinationPolicy {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self {
            allowed: Arc::new(allowed),
            https_only: false,
        }
    }

    /// The policy the configuration asks for.
    pub fn from_config(config: &Config) -> Self {
        Self::new(config.allowed_destination_networks.clone()).with_https_only(config.https_only)
    }

    /// Refuse `http://` URLs when `https_only` is set.
    pub fn with_https_only(mut self, https_only: bool) -> Self {
        self.https_only = https_only;
        self
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Scheme, host and — resolving the host now — every address.
    pub async fn check_url(&self, url: &Url) -> Result<(), String> {
        self.check_scheme(url)?;
        let port = url.port_or_known_default().unwrap_or(443);
        match url.host() {
            None => Err("has no host".to_string()),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => self.resolve_all_permitted(name, port).await.map(|_| ()),
        }
    }

    /// A broker's `host` (a name or an IP literal) resolved now: its
    /// addresses, when every one of them is permitted. Brokers are
    /// connected to by these addresses, never by the name again, so a
    /// name that later resolves elsewhere (DNS rebinding) changes nothing.
    pub async fn resolve_all_permitted(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| format!("host `{host}` does not resolve: {error}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("host `{host}` resolves to no address"));
        }
        addrs.iter().try_for_each(|addr| self.check_ip(addr.ip()))?;
        Ok(addrs)
    }

    /// For IP-literal URLs, which never reach the resolver.
    pub fn check_literal(&self, url: &Url) -> Result<(), String> {
        self.check_scheme(url)?;
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(Host::Domain(_)) => Ok(()),
            None => Err("has no host".to_string()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.permits(ip) {
            Ok(())
        } else {
            Err(format!(
                "resolves to {ip}, a non-public address; allow it with SWITCHYARD_ALLOWED_DESTINATION_NETWORKS"
            ))
        }
    }

    fn check_scheme(&self, url: &Url) -> Result<(), String> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.https_only => Err(
                "uses http://, but only https:// destinations are allowed (https_only)".to_string(),
            ),
            "http" => Ok(()),
            other => Err(format!("scheme `{other}` is not http or https")),
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link local fe80::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b; // NAT64
    !special
}

/// The delivery client's DNS resolver: resolves with the system resolver and
/// keeps only permitted addresses, failing when none is left.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    policy: DestinationPolicy,
}

impl GuardedResolver {
    pub fn new(policy: DestinationPolicy) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|addr| policy.permits(addr.ip()))
                .collect();
            if permitted.is_empty() {
                let message = format!(
                    "destination `{host}` resolves only to non-public addresses ({}); refused",
                    resolved
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Err(message.into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn refuses_non_public_addresses_by_default() {
        let policy = DestinationPolicy::default();
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!policy.permits(ip(text)), "{text} was permitted");
        }
        for text in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(policy.permits(ip(text)), "{text} was refused");
        }
    }

    #[test]
    fn allowlist_opens_listed_networks_only() {
        let policy = DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("10.0.0.1")));
    }

    #[tokio::test]
    async fn checks_urls() {
        let policy = DestinationPolicy::default();
        let url = |s: &str| Url::parse(s).expect("url");
        assert!(
            policy
                .check_url(&url("http://127.0.0.1:8080/x"))
                .await
                .is_err()
        );
        assert!(policy.check_url(&url("http://localhost/x")).await.is_err());
        assert!(
            policy
                .check_url(&url("ftp://93.184.216.34/"))
                .await
                .is_err()
        );
        assert!(
            policy
                .check_url(&url("https://93.184.216.34/hook"))
                .await
                .is_ok()
        );
        let open = DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("net")]);
        assert!(
            open.check_url(&url("http://127.0.0.1:8080/x"))
                .await
                .is_ok()
        );
        assert!(
            DestinationPolicy::default()
                .resolve_all_permitted("127.0.0.1", 5672)
                .await
                .is_err_and(|reason| reason.contains("non-public"))
        );
        assert_eq!(
            open.resolve_all_permitted("127.0.0.1", 5672).await,
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], 5672))])
        );
        let strict = open.with_https_only(true);
        let refused = strict.check_url(&url("http://127.0.0.1:8080/x")).await;
        assert!(refused.is_err_and(|reason| reason.contains("https_only")));
        assert!(strict.check_literal(&url("http://127.0.0.1/")).is_err());
        assert!(strict.check_url(&url("https://127.0.0.1/x")).await.is_ok());
    }
}
