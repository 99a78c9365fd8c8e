#!/usr/bin/env bash
# Builds the Debian package with cargo-deb: ferrosyncd, ferrosync-crmd, ferrosync, their
# systemd units, /etc/default/ferrosyncd and ferrosync-crmd, and the man pages generated from the command-line definitions.
#
#   bash packaging/build-deb.sh                 # release build → target/debian/*.deb
#   PROFILE=dev bash packaging/build-deb.sh     # package the debug build (tests)
# Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
case $PROFILE in release) dir=release ;; dev) dir=debug ;; *) dir=$PROFILE ;; esac
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$PROFILE" -p ferrosync-cli -p engine -p crm-daemon --bins
fi
rm -rf target/man
mkdir -p target/man/man1 target/man/man8
"target/$dir/ferrosync" man target/man/man1
"target/$dir/ferrosyncd" --generate-man target/man/man8
"target/$dir/ferrosync-crmd" --generate-man target/man/man8
gzip -9nf target/man/man1/* target/man/man8/*
cargo deb -p ferrosync-cli --no-build --profile "$PROFILE" --output target/debian/ "$@"
