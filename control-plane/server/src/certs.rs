//! `control-plane certs`: a cluster CA, a server certificate (also the peer certificate:
//! server and client auth) and a client certificate, as PEM files.

use crate::flags::CertsFlags;
use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use std::path::Path;

pub fn write(flags: &CertsFlags) -> anyhow::Result<()> {
    let dir = &flags.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let names = ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"];
    if !flags.force {
        for n in names {
            anyhow::ensure!(!dir.join(n).exists(), "{} exists; pass --force to replace it", dir.join(n).display());
        }
    }
    let hosts: Vec<String> = crate::flags::split(&flags.hosts);
    anyhow::ensure!(!hosts.is_empty(), "--hosts names no host");

    let ca_key = KeyPair::generate().context("failed to generate the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).context("bad CA parameters")?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Berth cluster CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).context("failed to self-sign the CA")?;
    let issuer = Issuer::new(ca, &ca_key);

    let mut server = CertificateParams::new(Vec::<String>::new()).context("bad server parameters")?;
    for h in &hosts {
        server.subject_alt_names.push(match h.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(h.clone().try_into().with_context(|| format!("bad DNS name {h}"))?),
        });
    }
    server.distinguished_name.push(DnType::CommonName, "berth control-plane");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let server_key = KeyPair::generate().context("failed to generate the server key")?;
    let server_cert = server.signed_by(&server_key, &issuer).context("failed to sign the server certificate")?;

    let mut client = CertificateParams::new(Vec::<String>::new()).context("bad client parameters")?;
    client.distinguished_name.push(DnType::CommonName, "root");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().context("failed to generate the client key")?;
    let client_cert = client.signed_by(&client_key, &issuer).context("failed to sign the client certificate")?;

    save(dir, "ca.crt", &ca_cert.pem(), false)?;
    save(dir, "ca.key", &ca_key.serialize_pem(), true)?;
    save(dir, "server.crt", &server_cert.pem(), false)?;
    save(dir, "server.key", &server_key.serialize_pem(), true)?;
    save(dir, "client.crt", &client_cert.pem(), false)?;
    save(dir, "client.key", &client_key.serialize_pem(), true)?;
    println!("wrote {} in {} (server certificate for {})", names.join(" "), dir.display(), hosts.join(", "));
    Ok(())
}

fn save(dir: &Path, name: &str, pem: &str, secret: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, pem).with_context(|| format!("failed to write {}", path.display()))?;
    if secret {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).with_context(|| format!("failed to restrict {}", path.display()))?;
    }
    Ok(())
}
