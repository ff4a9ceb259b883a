#!/usr/bin/env bash
# Debian libraries that Qt needs to run offscreen (viewer tests). Installs only what is missing,
# and only when running as root; otherwise it says what to install.
set -euo pipefail
deps_file="$(dirname "$0")/../viewer/SYSTEM_DEPS.txt"
[ -f "$deps_file" ] || exit 0
missing=()
while read -r pkg; do
  [ -z "$pkg" ] || [ "${pkg:0:1}" = "#" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$deps_file"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages for the viewer: ${missing[*]} (apt-get install them as root)" >&2
  exit 0
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
