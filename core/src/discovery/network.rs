//! Network scan: TLS endpoints, each asked for its certificate chain.
//!
//! Targets are `host:port`, `host` (with the scan's ports) or a CIDR range (`127.0.0.0/30`,
//! with the scan's ports). Bounded: the number of endpoints (a /16 of ports is refused, not
//! scanned for hours), the connect and handshake timeout per endpoint and the number of
//! endpoints probed at once. The chain is recorded whatever it is: discovery trusts nothing
//! and verifies nothing but the handshake.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ipnet::IpNet;

use crate::crypto::CertificateInfo;
use crate::deploy::fetch_served_chain;
use crate::error::{Error, Result};

use super::{Finding, Location, ScanProblem, ScanProgress, ScanReport};

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct NetworkScanOptions {
    /// `host:port`, `[v6]:port`, `host`, or a CIDR range; bare hosts and ranges get `ports`.
    pub targets: Vec<String>,
    /// Ports for targets without one (default 443).
    pub ports: Vec<u16>,
    /// SNI names to send; each endpoint is asked once per name (none: the host when it is a
    /// name, no SNI for an address).
    pub server_names: Vec<String>,
    /// Connect + handshake timeout per endpoint (default 3 s).
    pub timeout: Duration,
    /// Endpoints probed at once (default 16).
    pub concurrency: usize,
    /// Refuse to expand the targets to more endpoints than this (default 65,536).
    pub max_endpoints: usize,
}

impl Default for NetworkScanOptions {
    fn default() -> Self {
        NetworkScanOptions {
            targets: Vec::new(),
            ports: vec![443],
            server_names: Vec::new(),
            timeout: Duration::from_secs(3),
            concurrency: 16,
            max_endpoints: 65_536,
        }
    }
}

/// One endpoint to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Probe {
    host: String,
    port: u16,
    server_name: Option<String>,
}

/// Expand the targets. Errors name the bad target (`targets[i]`); nothing is probed then.
fn probes(options: &NetworkScanOptions) -> Result<Vec<Probe>> {
    if options.ports.is_empty() || options.ports.contains(&0) {
        return Err(Error::invalid("ports", "give at least one port, each 1-65535"));
    }
    if options.concurrency == 0 {
        return Err(Error::invalid("concurrency", "must be at least 1"));
    }
    let mut endpoints: Vec<(String, u16)> = Vec::new();
    let too_many = || {
        Error::invalid(
            "targets",
            format!("expand to more than {} endpoints; scan smaller ranges", options.max_endpoints),
        )
    };
    for (i, target) in options.targets.iter().enumerate() {
        let field = format!("targets[{i}]");
        let target = target.trim();
        if target.is_empty() {
            return Err(Error::invalid(field, "is empty"));
        }
        if target.contains('/') {
            let net = IpNet::from_str(target)
                .map_err(|_| Error::invalid(&field, format!("{target:?} is not a CIDR range")))?;
            let width = u32::from(net.max_prefix_len() - net.prefix_len());
            let hosts = 1u128.checked_shl(width).unwrap_or(u128::MAX);
            if hosts.saturating_mul(options.ports.len() as u128)
                > (options.max_endpoints - endpoints.len().min(options.max_endpoints)) as u128
            {
                return Err(too_many());
            }
            for address in net.hosts() {
                for &port in &options.ports {
                    endpoints.push((address.to_string(), port));
                }
            }
            continue;
        }
        let with_port =
            split_port(target).map_err(|e| Error::invalid(&field, format!("{target:?}: {e}")))?;
        match with_port {
            (host, Some(port)) => endpoints.push((host, port)),
            (host, None) => endpoints.extend(options.ports.iter().map(|&p| (host.clone(), p))),
        }
        if endpoints.len() > options.max_endpoints {
            return Err(too_many());
        }
    }
    let mut probes = Vec::new();
    for (host, port) in endpoints {
        if options.server_names.is_empty() {
            let sni = IpAddr::from_str(&host).is_err().then(|| host.clone());
            probes.push(Probe { host, port, server_name: sni });
        } else {
            for name in &options.server_names {
                probes.push(Probe { host: host.clone(), port, server_name: Some(name.clone()) });
            }
        }
    }
    if probes.len() > options.max_endpoints {
        return Err(too_many());
    }
    Ok(probes)
}

/// `host:port`, `[v6]:port`, `v6`, `host` → host and maybe port.
fn split_port(target: &str) -> std::result::Result<(String, Option<u16>), String> {
    let port = |p: &str| match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{p:?} is not a port (1-65535)")),
        Ok(p) => Ok(p),
    };
    if let Some(rest) = target.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or("an unclosed [")?;
        return match tail.strip_prefix(':') {
            Some(p) => Ok((host.to_owned(), Some(port(p)?))),
            None if tail.is_empty() => Ok((host.to_owned(), None)),
            None => Err("expected :port after ]".to_owned()),
        };
    }
    if IpAddr::from_str(target).is_ok() {
        return Ok((target.to_owned(), None)); // A bare address, v6 included.
    }
    match target.rsplit_once(':') {
        Some((host, p)) if !host.is_empty() => Ok((host.to_owned(), Some(port(p)?))),
        Some(_) => Err("no host before :".to_owned()),
        None => Ok((target.to_owned(), None)),
    }
}

/// Probe every endpoint of `options`. Unreachable endpoints and failed handshakes are
/// [`ScanProblem`]s; a bad target is an error before anything is probed. `progress` gets
/// (endpoints probed, endpoints in all).
pub fn scan_network(
    options: &NetworkScanOptions,
    progress: Option<ScanProgress<'_>>,
) -> Result<ScanReport> {
    let probes = probes(options)?;
    let total = probes.len() as u64;
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<(usize, ProbeResult)>> = Mutex::new(Vec::new());
    let workers = options.concurrency.min(probes.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(probe) = probes.get(i) else { break };
                    let result = probe_one(probe, options.timeout);
                    if let Ok(mut results) = results.lock() {
                        results.push((i, result));
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(progress) = progress {
                        progress(n, Some(total));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut report = ScanReport { examined: total, ..ScanReport::default() };
    for (_, result) in results {
        match result {
            Ok(findings) => report.findings.extend(findings),
            Err(problem) => report.problems.push(problem),
        }
    }
    Ok(report)
}

/// What probing one endpoint gave.
type ProbeResult = std::result::Result<Vec<Finding>, ScanProblem>;

fn probe_one(probe: &Probe, timeout: Duration) -> ProbeResult {
    let endpoint = if probe.host.contains(':') {
        format!("[{}]:{}", probe.host, probe.port)
    } else {
        format!("{}:{}", probe.host, probe.port)
    };
    let at = match &probe.server_name {
        Some(name) if name != &probe.host => format!("{endpoint} (SNI {name})"),
        _ => endpoint.clone(),
    };
    let served = fetch_served_chain(&endpoint, probe.server_name.as_deref(), timeout)
        .map_err(|e| ScanProblem::new(&at, e))?;
    // What a server sends is one chain, leaf first, whatever its basicConstraints say.
    let Some((leaf, chain)) = served.certificates.split_first() else {
        return Err(ScanProblem::new(&at, "the server sent no certificate"));
    };
    let leaf = CertificateInfo::from_der(leaf).map_err(|e| ScanProblem::new(&at, e))?;
    let location = Location::Endpoint {
        host: probe.host.clone(),
        port: probe.port,
        server_name: probe.server_name.clone(),
    };
    Ok(vec![Finding::new(location, leaf, chain.to_vec())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(targets: &[&str]) -> NetworkScanOptions {
        NetworkScanOptions {
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            ports: vec![443, 8443],
            ..NetworkScanOptions::default()
        }
    }

    #[test]
    fn targets_expand_to_endpoints_with_sni_for_names_only() {
        let probes =
            probes(&options(&["127.0.0.1:9443", "localhost", "[::1]:10443", "127.0.0.8/30"]))
                .unwrap();
        let shown: Vec<String> =
            probes.iter().map(|p| format!("{} {} {:?}", p.host, p.port, p.server_name)).collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1 9443 None",
                "localhost 443 Some(\"localhost\")",
                "localhost 8443 Some(\"localhost\")",
                "::1 10443 None",
                "127.0.0.9 443 None",
                "127.0.0.9 8443 None",
                "127.0.0.10 443 None",
                "127.0.0.10 8443 None",
            ]
        );
    }

    #[test]
    fn bad_targets_name_their_index_and_huge_ranges_are_refused() {
        for (targets, field) in [
            (vec!["127.0.0.1:99999"], "targets[0]"),
            (vec!["127.0.0.1:443", "10.0.0.0/33"], "targets[1]"),
            (vec!["[::1"], "targets[0]"),
            (vec!["10.0.0.0/8"], "targets"),
        ] {
            let err = probes(&options(&targets)).unwrap_err();
            assert!(err.to_string().contains(field), "{targets:?}: {err}");
        }
    }
}
