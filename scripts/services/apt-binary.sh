#!/usr/bin/env bash
# Sourced by the tool scripts (chromium.sh, promtool.sh): installs a Debian package if its binary is
# missing, checks the binary runs, and prints its path on fd 3 with --url.
#   apt_binary <label> <binary> <package> <version-check args...> -- "$@"
apt_binary() {
  local label="$1" bin="$2" package="$3"
  shift 3
  local check=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do check+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  if [ ! -x "$bin" ]; then
    echo "[$label] installing $package from apt" >&2
    if [ "$(id -u)" != 0 ]; then echo "[$label] need root (or sudo) to apt-get install $package" >&2; return 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 3>&-
    # APT_NO_RECOMMENDS=1: only the binary is wanted (prometheus recommends a whole exporter set).
    # 3>&-: a package script that starts a daemon must not inherit the caller's answer pipe.
    apt-get install -y -qq ${APT_NO_RECOMMENDS:+--no-install-recommends} "$package" >/dev/null 3>&-
  fi
  "$bin" "${check[@]}" >/dev/null 2>&1 || { echo "[$label] $bin does not run" >&2; return 1; }
  if [ "${1:-}" = "--url" ]; then echo "$bin" >&3; fi
}
