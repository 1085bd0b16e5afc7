//! `control-plane certs`: a cluster CA, a server certificate (also the peer certificate:
//! server and client auth), a client certificate, an admin certificate for the Kubernetes
//! API (CN admin, O system:masters) and the service-account token key pair, as PEM files;
//! `control-plane kubeconfig`: a kubeconfig with a client certificate signed by the CA.

use crate::flags::{CertsFlags, KubeconfigFlags};
use anyhow::Context;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::Path;

pub fn write(flags: &CertsFlags) -> anyhow::Result<()> {
    let dir = &flags.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let names = [
        "ca.crt",
        "ca.key",
        "server.crt",
        "server.key",
        "client.crt",
        "client.key",
        "admin.crt",
        "admin.key",
        "sa.key",
        "sa.pub",
    ];
    if !flags.force {
        for n in names {
            anyhow::ensure!(
                !dir.join(n).exists(),
                "{} exists; pass --force to replace it",
                dir.join(n).display()
            );
        }
    }
    let hosts: Vec<String> = crate::flags::split(&flags.hosts);
    anyhow::ensure!(!hosts.is_empty(), "--hosts names no host");

    let ca_key = KeyPair::generate().context("failed to generate the CA key")?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).context("bad CA parameters")?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Berth cluster CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca
        .self_signed(&ca_key)
        .context("failed to self-sign the CA")?;
    let issuer = Issuer::new(ca, &ca_key);

    let mut server =
        CertificateParams::new(Vec::<String>::new()).context("bad server parameters")?;
    for h in &hosts {
        server
            .subject_alt_names
            .push(match h.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    h.clone()
                        .try_into()
                        .with_context(|| format!("bad DNS name {h}"))?,
                ),
            });
    }
    server
        .distinguished_name
        .push(DnType::CommonName, "berth control-plane");
    server.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let server_key = KeyPair::generate().context("failed to generate the server key")?;
    let server_cert = server
        .signed_by(&server_key, &issuer)
        .context("failed to sign the server certificate")?;

    let mut client =
        CertificateParams::new(Vec::<String>::new()).context("bad client parameters")?;
    client.distinguished_name.push(DnType::CommonName, "root");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().context("failed to generate the client key")?;
    let client_cert = client
        .signed_by(&client_key, &issuer)
        .context("failed to sign the client certificate")?;

    let (admin_cert, admin_key) =
        sign_client_cert("admin", &["system:masters".to_string()], &issuer)?;
    // The service-account token key pair: P-256, PKCS#8 private key and SPKI public key.
    let sa_key = KeyPair::generate().context("failed to generate the service-account key")?;

    save(dir, "ca.crt", &ca_cert.pem(), false)?;
    save(dir, "ca.key", &ca_key.serialize_pem(), true)?;
    save(dir, "server.crt", &server_cert.pem(), false)?;
    save(dir, "server.key", &server_key.serialize_pem(), true)?;
    save(dir, "client.crt", &client_cert.pem(), false)?;
    save(dir, "client.key", &client_key.serialize_pem(), true)?;
    save(dir, "admin.crt", &admin_cert, false)?;
    save(dir, "admin.key", &admin_key, true)?;
    save(dir, "sa.key", &sa_key.serialize_pem(), true)?;
    save(dir, "sa.pub", &sa_key.public_key_pem(), false)?;
    println!(
        "wrote {} in {} (server certificate for {})",
        names.join(" "),
        dir.display(),
        hosts.join(", ")
    );
    Ok(())
}

/// A client certificate (CN = user, O = groups) signed by `issuer`: (cert PEM, key PEM).
fn sign_client_cert<K: rcgen::SigningKey>(
    user: &str,
    groups: &[String],
    issuer: &Issuer<'_, K>,
) -> anyhow::Result<(String, String)> {
    let mut p = CertificateParams::new(Vec::<String>::new()).context("bad client parameters")?;
    p.distinguished_name.push(DnType::CommonName, user);
    for g in groups {
        p.distinguished_name
            .push(DnType::OrganizationName, g.as_str());
    }
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().context("failed to generate a client key")?;
    let cert = p
        .signed_by(&key, issuer)
        .with_context(|| format!("failed to sign the certificate of {user}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// `control-plane kubeconfig`: a client certificate for the user, in a kubeconfig.
pub fn kubeconfig(flags: &KubeconfigFlags) -> anyhow::Result<()> {
    let ca_pem = std::fs::read_to_string(flags.certs_dir.join("ca.crt"))
        .with_context(|| format!("failed to read {}/ca.crt", flags.certs_dir.display()))?;
    let ca_key_pem = std::fs::read_to_string(flags.certs_dir.join("ca.key"))
        .with_context(|| format!("failed to read {}/ca.key", flags.certs_dir.display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("bad CA key")?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key).context("bad CA certificate")?;
    anyhow::ensure!(!flags.user.is_empty(), "--user is empty");
    anyhow::ensure!(
        flags.server.starts_with("https://"),
        "--server must be an https:// URL"
    );
    let (cert, key) = sign_client_cert(&flags.user, &flags.groups, &issuer)?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: berth\n  context:\n    cluster: berth\n    user: {user}\n    namespace: default\ncurrent-context: berth\n",
        server = flags.server,
        ca = b64(&ca_pem),
        user = flags.user,
        cert = b64(&cert),
        key = b64(&key),
    );
    if let Some(parent) = flags.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    let dir = flags
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = flags
        .out
        .file_name()
        .and_then(|n| n.to_str())
        .context("--out names no file")?;
    save(dir, name, &text, true)?;
    println!(
        "wrote {} (user {}, groups [{}], server {})",
        flags.out.display(),
        flags.user,
        flags.groups.join(","),
        flags.server
    );
    Ok(())
}

fn save(dir: &Path, name: &str, pem: &str, secret: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, pem).with_context(|| format!("failed to write {}", path.display()))?;
    if secret {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("failed to restrict {}", path.display()))?;
    }
    Ok(())
}
