#!/usr/bin/env bash
# Installs Latchkey as systemd units:
#   deploy/install.sh [--prefix /usr/local] [--destdir DIR] [--no-build]
#                     [--from DIR]   (binaries already built, laid out as bazel-bin)
#   deploy/install.sh --uninstall [--purge]   (--purge also deletes state)
# Binaries go to PREFIX/bin; units, sysusers and tmpfiles to DESTDIR/etc and
# DESTDIR/usr/lib. Without --destdir it also creates the users
# (systemd-sysusers) and directories (systemd-tmpfiles) and reloads systemd.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=/usr/local DESTDIR="" BUILD=1 UNINSTALL=0 PURGE=0 FROM=
while (($#)); do
  case "$1" in
    --prefix) PREFIX=$2; shift ;;
    --destdir) DESTDIR=$2; shift ;;
    --no-build) BUILD=0 ;;
    --from) FROM=$2; BUILD=0; shift ;;  # a tree laid out like bazel-bin
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
BINDIR="$PREFIX/bin"
UNITDIR="$DESTDIR/etc/systemd/system"
BINARIES=(vault/latchkey-vault broker/latchkey-broker audit_sink/latchkey-audit
          audit_sink/latchkey-audit-verify mcp_adapter/latchkey-mcp ctl/latchkeyctl)
UNITS=(latchkey-vault.service latchkey-vault.socket latchkey-broker.service
       latchkey-broker.socket latchkey-broker-admin.socket
       latchkey-audit.service latchkey-audit.socket)

if ((UNINSTALL)); then
  [[ -z "$DESTDIR" ]] && systemctl disable --now "${UNITS[@]}" 2>/dev/null || true
  for b in "${BINARIES[@]}"; do rm -f "$DESTDIR$BINDIR/$(basename "$b")"; done
  for u in "${UNITS[@]}"; do rm -f "$UNITDIR/$u"; done
  rm -f "$DESTDIR/usr/lib/sysusers.d/latchkey.conf" "$DESTDIR/usr/lib/tmpfiles.d/latchkey.conf"
  rm -rf "$DESTDIR$PREFIX/share/doc/latchkey"
  if ((PURGE)); then
    rm -rf "$DESTDIR/var/lib/latchkey"
    echo "removed Latchkey and its state" >&2
  else
    echo "removed Latchkey; state kept in /var/lib/latchkey (use --purge to delete it)" >&2
  fi
  exit 0
fi

if ((BUILD)); then bazel build -c opt //vault:latchkey-vault //broker:latchkey-broker \
  //audit_sink:latchkey-audit //audit_sink:latchkey-audit-verify \
  //mcp_adapter:latchkey-mcp //ctl:latchkeyctl >/dev/null; fi
BAZEL_BIN=${FROM:-$(bazel info -c opt bazel-bin 2>/dev/null)}
install -d "$DESTDIR$BINDIR" "$UNITDIR" "$DESTDIR/usr/lib/sysusers.d" \
  "$DESTDIR/usr/lib/tmpfiles.d" "$DESTDIR/etc/latchkey"
for b in "${BINARIES[@]}"; do install -m 0755 "$BAZEL_BIN/$b" "$DESTDIR$BINDIR/"; done
for u in "${UNITS[@]}"; do
  if [[ -f "deploy/systemd/$u.in" ]]; then
    sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@DOCDIR@|$PREFIX/share/doc/latchkey|g" \
      "deploy/systemd/$u.in" > "$UNITDIR/$u"
  else
    install -m 0644 "deploy/systemd/$u" "$UNITDIR/$u"
  fi
done
install -d "$DESTDIR$PREFIX/share/doc/latchkey"
install -m 0644 README.md "$DESTDIR$PREFIX/share/doc/latchkey/"
install -d "$DESTDIR$PREFIX/share/doc/latchkey/docs"
install -m 0644 docs/*.md "$DESTDIR$PREFIX/share/doc/latchkey/docs/"
install -m 0644 deploy/sysusers.d/latchkey.conf "$DESTDIR/usr/lib/sysusers.d/"
install -m 0644 deploy/tmpfiles.d/latchkey.conf "$DESTDIR/usr/lib/tmpfiles.d/"
if [[ -z "$DESTDIR" ]]; then
  systemd-sysusers latchkey.conf
  systemd-tmpfiles --create latchkey.conf
  systemctl daemon-reload 2>/dev/null || true
  echo "installed. Put the broker configuration in /etc/latchkey/broker.textproto, then:" >&2
  echo "  systemctl enable --now latchkey-audit.socket latchkey-vault.socket latchkey-broker.socket latchkey-broker-admin.socket" >&2
fi
