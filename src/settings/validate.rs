//! Config-time checks of Dovecot's `master_settings_verify` (spec §1.2): errors that stop start-up
//! (or a reload) and warnings that are only logged. Each names the setting and its location.

use std::collections::BTreeMap;

use super::defaults::SINGLETONS;
use super::error::ConfigError;
use super::loaded::Loaded;
use super::service::ServiceType;
use super::values::Mode;

/// Runs every check; the first error wins, warnings accumulate.
pub fn validate(loaded: &Loaded, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    let s = &loaded.settings;
    let err = |setting: String, message: String| ConfigError {
        location: loaded.locate(&setting),
        setting,
        message,
    };

    if s.core.listen.is_empty() {
        return Err(err("listen".into(), "must not be empty".into()));
    }
    if s.core.base_dir.as_os_str().is_empty() {
        return Err(err("base_dir".into(), "must not be empty".into()));
    }
    if s.core.default_process_limit == 0 {
        return Err(err(
            "default_process_limit".into(),
            "must be at least 1".into(),
        ));
    }
    if s.core.default_client_limit == 0 {
        return Err(err(
            "default_client_limit".into(),
            "must be at least 1".into(),
        ));
    }

    if let Err((setting, message)) = crate::service::imap::settings::check(&s.imap) {
        return Err(err(setting.into(), message));
    }
    if s.mail.login_timeout.as_duration().is_zero() {
        return Err(err(
            "login_timeout".into(),
            "must be at least 1s (0 would close every client before it could log in)".into(),
        ));
    }

    // protocols must each be declared by some service
    for p in &s.core.protocols {
        if p == "none" {
            continue;
        }
        if !s
            .service
            .values()
            .any(|svc| svc.protocol.eq_ignore_ascii_case(p))
        {
            return Err(err(
                "protocols".into(),
                format!("unknown protocol '{p}': no service declares protocol = \"{p}\""),
            ));
        }
    }

    let mut single_types: BTreeMap<&'static str, &str> = BTreeMap::new();
    let mut inet_seen: BTreeMap<String, String> = BTreeMap::new();
    let mut path_seen: BTreeMap<std::path::PathBuf, String> = BTreeMap::new();

    for (name, svc) in &s.service {
        let key = |k: &str| format!("service.{name}.{k}");
        if name.is_empty() {
            return Err(err(
                "service".into(),
                "service name must not be empty".into(),
            ));
        }
        let eff = svc.effective(&s.core);
        if eff.process_min_avail > eff.process_limit {
            return Err(err(
                key("process_min_avail"),
                format!(
                    "process_min_avail ({}) is higher than process_limit ({})",
                    eff.process_min_avail, eff.process_limit
                ),
            ));
        }
        if let Some(v) = svc.vsz_limit {
            if v.0 != 0 && v.0 < (1 << 20) {
                return Err(err(
                    key("vsz_limit"),
                    format!("vsz_limit ({v}) is too low (minimum 1 M)"),
                ));
            }
        }
        if svc.drop_priv_before_exec && !svc.chroot.is_empty() {
            return Err(err(
                key("drop_priv_before_exec"),
                "drop_priv_before_exec = yes can't be used with chroot".into(),
            ));
        }
        if SINGLETONS.contains(&name.as_str()) && svc.process_limit > 1 {
            return Err(err(
                key("process_limit"),
                format!("process_limit must be 1 for service {name} (it holds global state)"),
            ));
        }
        if matches!(
            svc.service_type,
            ServiceType::Log | ServiceType::Config | ServiceType::Anvil
        ) && s.service_enabled(svc)
        {
            let t = svc.service_type.as_str();
            if let Some(other) = single_types.insert(t, name) {
                return Err(err(
                    key("type"),
                    format!("only one service may have type = \"{t}\" (also: {other})"),
                ));
            }
        }
        if !s.service_enabled(svc) {
            continue;
        }
        for (lname, l) in &svc.inet_listener {
            if l.port == 0 {
                continue;
            }
            if l.port > 65535 {
                return Err(err(
                    key(&format!("inet_listener.{lname}.port")),
                    format!("port {} is out of range", l.port),
                ));
            }
            let addr = if l.address.is_empty() {
                s.core.listen.join(", ")
            } else {
                l.address.clone()
            };
            let id = format!("{}:{}", l.port, addr);
            let who = format!("service.{name}.inet_listener.{lname}");
            if let Some(other) = inet_seen.insert(id.clone(), who.clone()) {
                return Err(err(
                    format!("{who}.port"),
                    format!("duplicate listener: {id} is also used by {other}"),
                ));
            }
        }
        for (kind, map) in [
            ("unix_listener", &svc.unix_listener),
            ("fifo_listener", &svc.fifo_listener),
        ] {
            for (lname, l) in map {
                if l.mode == Mode(0) {
                    continue;
                }
                let path = s.listener_path(lname, l);
                let who = format!("service.{name}.{kind}.{lname}");
                if let Some(other) = path_seen.insert(path.clone(), who.clone()) {
                    return Err(err(
                        who,
                        format!(
                            "duplicate listener: {} is also used by {other}",
                            path.display()
                        ),
                    ));
                }
            }
        }
    }

    if let Err((setting, message)) =
        crate::mail::namespace::check(&s.mail.namespace, &s.mail.mail_location)
    {
        // A missing key (`inbox` not set) is located at its block.
        let mut at = setting.as_str();
        let mut location = loaded.locate(at);
        while location == "built-in defaults" {
            match at.rsplit_once('.') {
                Some((parent, _)) => at = parent,
                None => break,
            }
            location = loaded.locate(at);
        }
        return Err(ConfigError {
            setting,
            location,
            message,
        });
    }

    // Mode spelled without the leading 0: Dovecot reads it as decimal; we read octal and warn.
    if let Some(text) = loaded_text_modes(loaded) {
        warnings.extend(text);
    }
    Ok(())
}

/// Finds `mode = "666"`-style values (no leading 0) in the file and explains them.
fn loaded_text_modes(loaded: &Loaded) -> Option<Vec<String>> {
    let s = &loaded.settings;
    let mut out = Vec::new();
    for (name, svc) in &s.service {
        for (kind, map) in [
            ("unix_listener", &svc.unix_listener),
            ("fifo_listener", &svc.fifo_listener),
        ] {
            for lname in map.keys() {
                let setting = format!("service.{name}.{kind}.{lname}.mode");
                let raw = loaded.raw_value(&setting);
                if let Some(raw) = raw {
                    if let Ok((m, no_zero)) = Mode::parse(&raw) {
                        if no_zero {
                            out.push(format!(
                                "{}: {setting}: mode = {raw} has no leading 0; roost reads it as octal {m} (Dovecot 2.3 would read it as decimal {raw} = 0{:o}); write {m} to silence this warning",
                                loaded.locate(&setting),
                                raw.parse::<u32>().unwrap_or(0)
                            ));
                        }
                    }
                }
            }
        }
    }
    Some(out)
}
