//! Which sockets a service's listener blocks turn into, and binding them.

use super::*;
use crate::settings::{InetListener, SslMode, WrappedSsl};

fn service_with(listeners: &[(&str, InetListener)]) -> ServiceSettings {
    let mut svc = ServiceSettings::default();
    for (name, l) in listeners {
        svc.inet_listener.insert(name.to_string(), l.clone());
    }
    svc
}

fn inet(port: u32, ssl: bool, address: &str) -> InetListener {
    InetListener {
        port,
        ssl,
        address: address.into(),
        ..Default::default()
    }
}

#[test]
fn port_zero_disables_and_global_ssl_no_drops_ssl_listeners() {
    let mut s = Settings::default();
    s.core.listen = vec!["127.0.0.1".into()];
    let svc = service_with(&[
        ("imap", inet(143, false, "")),
        ("imaps", inet(993, true, "")),
        ("off", inet(0, false, "")),
    ]);
    let names = |s: &Settings| -> Vec<String> {
        specs_for_service(s, "imap-login", &svc)
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect()
    };
    assert_eq!(names(&s), ["imap", "imaps"]);
    s.core.ssl = WrappedSsl(SslMode::No);
    assert_eq!(names(&s), ["imap"]);
}

#[tokio::test]
async fn star_and_double_colon_are_two_sockets_that_bind_the_same_port() {
    let mut s = Settings::default();
    s.core.listen = vec!["*".into(), "::".into()];
    // Find a free port on both families.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let svc = service_with(&[("x", inet(port as u32, false, ""))]);
    let specs = specs_for_service(&s, "health-check", &svc).unwrap();
    assert_eq!(specs.len(), 2);
    let a = BoundListener::bind(specs[0].clone(), 8);
    let b = BoundListener::bind(specs[1].clone(), 8);
    if let (Ok(_), Err(e)) = (&a, &b) {
        // IPv6 may be unavailable in a container; only a collision would be a failure.
        assert_ne!(
            e.kind(),
            std::io::ErrorKind::AddrInUse,
            "IPV6_V6ONLY missing"
        );
    }
    assert!(a.is_ok());
}

#[test]
fn address_overrides_listen_and_out_of_range_port_is_an_error() {
    let s = Settings::default();
    let svc = service_with(&[("x", inet(1143, false, "127.0.0.1, [::1]"))]);
    let specs = specs_for_service(&s, "health-check", &svc).unwrap();
    let addrs: Vec<String> = specs.iter().map(|s| s.describe()).collect();
    assert_eq!(addrs, ["127.0.0.1:1143", "[::1]:1143"]);
    let svc = service_with(&[("x", inet(70000, false, "127.0.0.1"))]);
    let e = specs_for_service(&s, "health-check", &svc).unwrap_err();
    assert!(
        e.to_string()
            .contains("service.health-check.inet_listener.x.port"),
        "{e}"
    );
}
