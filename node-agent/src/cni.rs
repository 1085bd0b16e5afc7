//! The pod network's CNI configuration: a `bridge` network with `host-local` IPAM on the
//! node's pod CIDR, written where containerd's CRI plugin reads it. Pure rendering plus one
//! atomic file write.

use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CniError {
    #[error("invalid pod CIDR {0:?}: want an IPv4 a.b.c.d/n with n in 8..=28")]
    BadCidr(String),
    #[error("invalid bridge name {0:?}: 1 to 15 characters of [a-z0-9-]")]
    BadBridge(String),
    #[error("failed to write the CNI config {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// A parsed IPv4 CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CniError> {
        let bad = || CniError::BadCidr(s.to_string());
        let (ip, len) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix_len: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=28).contains(&prefix_len) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix_len);
        Ok(Cidr {
            network: Ipv4Addr::from(u32::from(ip) & mask),
            prefix_len,
        })
    }

    /// The first host address: the bridge's (the pods' gateway).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
}

/// The conflist. No `ipMasq` and no default route: pods reach the node and each other on
/// the bridge, and nothing else (the node's own firewall and routing are left alone).
pub fn render(
    network_name: &str,
    bridge: &str,
    cidr: &Cidr,
    ipam_data_dir: &Path,
) -> Result<String, CniError> {
    if bridge.is_empty()
        || bridge.len() > 15
        || !bridge
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(CniError::BadBridge(bridge.to_string()));
    }
    let conf = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": network_name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": format!("{}/{}", cidr.network, cidr.prefix_len), "gateway": cidr.gateway().to_string() }]],
                    "dataDir": ipam_data_dir.display().to_string(),
                }
            },
            { "type": "loopback" }
        ]
    });
    Ok(serde_json::to_string_pretty(&conf).expect("a JSON value serializes"))
}

/// Writes the conflist into `conf_dir` atomically (temp file, then rename), so containerd
/// never reads half of it.
pub fn install(conf_dir: &Path, file_name: &str, contents: &str) -> Result<(), CniError> {
    let path = conf_dir.join(file_name);
    let err = |source| CniError::Write {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(conf_dir).map_err(err)?;
    if std::fs::read_to_string(&path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    let tmp = conf_dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&tmp, contents).map_err(err)?;
    std::fs::rename(&tmp, &path).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert_eq!(
            Cidr::parse("198.18.3.7/24").expect("valid"),
            Cidr {
                network: Ipv4Addr::new(198, 18, 3, 0),
                prefix_len: 24
            }
        );
        assert_eq!(
            Cidr::parse("198.18.3.0/24").expect("valid").gateway(),
            Ipv4Addr::new(198, 18, 3, 1)
        );
        for bad in [
            "198.18.3.0",
            "198.18.3.0/33",
            "198.18.3.0/30",
            "x/24",
            "::1/64",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn conflist() {
        let c = Cidr::parse("198.18.3.0/24").expect("valid");
        let text = render("berth", "berth0", &c, Path::new("/var/lib/x")).expect("render");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(v["plugins"][0]["ipMasq"], false);
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "198.18.3.0/24"
        );
        assert!(render("berth", "a-bridge-name-too-long", &c, Path::new("/x")).is_err());
    }
}
