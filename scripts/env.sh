# Sourced by the other scripts: finds cargo when run under sudo, where
# root's PATH usually lacks the invoking user's ~/.cargo/bin.
if ! command -v cargo >/dev/null 2>&1; then
  for home in "${CARGO_HOME:-}" "$HOME/.cargo" \
    "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)/.cargo"; do
    if [ -n "$home" ] && [ -x "$home/bin/cargo" ]; then
      export PATH="$home/bin:$PATH"
      break
    fi
  done
fi
