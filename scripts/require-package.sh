# Sourced by the scripts: require_package BINARY PACKAGE installs PACKAGE from Debian when
# BINARY is missing and we are root, and otherwise says what to install and exits.
require_package() {
  local binary=$1 package=$2
  if command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$(basename "$0"): installing $package (for $binary)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
  else
    echo "$(basename "$0"): $binary is needed; install it first: apt-get install $package" >&2
    exit 1
  fi
}
