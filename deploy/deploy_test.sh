#!/usr/bin/env bash
# Checks the systemd units: `systemd-analyze verify` finds no problem, and
# `systemd-analyze security --offline=yes` rates every service at exposure
# 2.0 or lower. Also installs into a scratch DESTDIR and checks the layout.
set -euo pipefail
RUNFILES="$PWD"
t=$(mktemp -d /tmp/lk-deploy-XXXXXX)
trap 'rm -rf "$t"' EXIT
fail=0

# Units pointing at the binaries built for this test.
mkdir -p "$t/bin" "$t/units" "$t/doc"
for b in vault/latchkey-vault broker/latchkey-broker audit_sink/latchkey-audit; do
  ln -s "$RUNFILES/$b" "$t/bin/$(basename "$b")"
done
touch "$t/doc/README.md"
for f in deploy/systemd/*; do
  name=$(basename "$f" .in)
  sed -e "s|@BINDIR@|$t/bin|g" -e "s|@DOCDIR@|$t/doc|g" "$f" > "$t/units/$name"
done

if ! out=$(systemd-analyze verify "$t"/units/*.service "$t"/units/*.socket 2>&1) || [[ -n "$out" ]]; then
  echo "FAIL: systemd-analyze verify reported:"; echo "$out"; fail=1
else
  echo "ok: systemd-analyze verify"
fi

for unit in "$t"/units/*.service; do
  line=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1)
  score=$(sed -n 's/.*exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$line")
  if [[ -z "$score" ]] || awk -v s="$score" 'BEGIN{exit !(s > 2.0)}'; then
    echo "FAIL: $(basename "$unit"): $line"; fail=1
  else
    echo "ok: $(basename "$unit") exposure $score"
  fi
done

# Every service runs as its own user with the hardening the design asks for.
for unit in "$t"/units/*.service; do
  for directive in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
      PrivateTmp=yes PrivateDevices=yes MemoryDenyWriteExecute=yes \
      LockPersonality=yes SystemCallArchitectures=native CapabilityBoundingSet= \
      UMask=0077 SystemCallFilter=@system-service RestrictNamespaces=yes; do
    grep -qx "$directive" "$unit" || { echo "FAIL: $(basename "$unit") lacks $directive"; fail=1; }
  done
done
grep -qx PrivateNetwork=yes "$t/units/latchkey-broker.service" || { echo "FAIL: broker needs PrivateNetwork"; fail=1; }
grep -qx PrivateNetwork=yes "$t/units/latchkey-audit.service" || { echo "FAIL: audit needs PrivateNetwork"; fail=1; }
grep -qx LimitCORE=0 "$t/units/latchkey-vault.service" || { echo "FAIL: vault needs LimitCORE=0"; fail=1; }

# install.sh into a scratch root: files land where they should.
deploy/install.sh --from "$RUNFILES" --destdir "$t/root" --prefix /usr/local >/dev/null 2>&1 || true
for f in usr/local/bin/latchkey-vault usr/local/bin/latchkeyctl \
    etc/systemd/system/latchkey-vault.service etc/systemd/system/latchkey-broker-admin.socket \
    usr/lib/sysusers.d/latchkey.conf usr/lib/tmpfiles.d/latchkey.conf \
    usr/local/share/doc/latchkey/README.md \
    usr/local/share/doc/latchkey/docs/architecture.md; do
  [[ -e "$t/root/$f" ]] || { echo "FAIL: install did not create $f"; fail=1; }
done
grep -q "ExecStart=/usr/local/bin/latchkey-vault " "$t/root/etc/systemd/system/latchkey-vault.service" \
  || { echo "FAIL: installed unit does not point at /usr/local/bin"; fail=1; }
deploy/install.sh --uninstall --destdir "$t/root" --prefix /usr/local >/dev/null 2>&1
[[ ! -e "$t/root/usr/local/bin/latchkey-vault" ]] || { echo "FAIL: uninstall left binaries"; fail=1; }
[[ ! -e "$t/root/usr/local/share/doc/latchkey" ]] || { echo "FAIL: uninstall left the docs"; fail=1; }
exit $fail
