#!/usr/bin/env bash
# Runs roost's whole test suite. As root it first installs the real peers the tests drive
# (Debian packages): promtool and prometheus, python3-prometheus-client, haproxy, openssl, curl,
# Dovecot's doveadm, Postfix, swaks, Python's requests, mbsync (isync); and PyPI's imapclient
# with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(prometheus haproxy openssl curl python3 procps iproute2 swaks postfix isync
          dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd python3-requests
          python3-prometheus-client)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "scripts/test.sh: missing packages ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Postfix asks no questions with this preset.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI's imapclient drives the imap service's tests (Debian has no package of it).
if ! python3 -c 'import imapclient' 2>/dev/null; then
    echo "installing: imapclient (PyPI)"
    python3 -m pip install --quiet imapclient
fi

cargo test --all-targets "$@"
