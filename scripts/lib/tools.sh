# Shared by scripts/serve and scripts/test: installs what the build needs, only when missing,
# and says what it is doing (a first run compiles tools for several minutes).
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10" # 0.3.11 needs rustc 1.96+; 0.3.10 builds on stable 1.95
BINARYEN_VERSION="132.0.0"    # wasm-opt for release builds; Debian's v108 is too old
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$ROOT/.tools/node_modules/.bin:$PATH"

step_started=0
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step() { step_started=$SECONDS; say "$*"; }
done_step() { printf '    done in %ss\n' "$((SECONDS - step_started))"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $*"; fi
}

# Commands to run when the script exits, however it exits: `on_exit <function>`.
exit_hooks=()
run_exit_hooks() { local hook; for hook in "${exit_hooks[@]}"; do "$hook"; done; }
on_exit() { exit_hooks+=("$1"); trap run_exit_hooks EXIT; }

apt_updated=0
# Debian packages, installed only if a command or file is missing.
ensure_apt() { # ensure_apt <probe-path-or-command> <package>...
  local probe=$1; shift
  if command -v "$probe" >/dev/null 2>&1 || [ -e "$probe" ]; then return; fi
  step "Installing $* from Debian's packages"
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  done_step
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first (https://rustup.rs)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
    done_step
  fi
  # scripts/test checks formatting and the lint table (`[lints]` in Cargo.toml).
  if ! rustup component list --installed | grep -q '^clippy'; then
    step "Adding clippy and rustfmt"
    rustup component add clippy rustfmt
    done_step
  fi
}

ensure_cargo_leptos() {
  if [ "$(cargo leptos --version 2>/dev/null)" = "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then return; fi
  ensure_apt pkg-config pkg-config
  ensure_apt /usr/include/openssl/ssl.h libssl-dev
  step "Building cargo-leptos $CARGO_LEPTOS_VERSION (once; about 15 minutes on 2 cores)"
  # Without LTO the tool builds several times faster and runs just as well for our use.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
  done_step
}

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
ensure_wasm_bindgen() {
  local wanted
  wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")
  [ -n "$wanted" ] || die "cannot find the wasm-bindgen version in Cargo.lock"
  if [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $wanted" ]; then return; fi
  step "Building wasm-bindgen-cli $wanted to match Cargo.lock (once; about 5 minutes)"
  # No --locked: its lock file names a crate version the registry no longer has.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$wanted" --force
  done_step
}

ensure_node() {
  ensure_apt node nodejs
  ensure_apt npm npm
}

# wasm-opt, for release builds only, from npm's binaryen package, kept in .tools/.
ensure_wasm_opt() {
  if [ -x "$ROOT/.tools/node_modules/.bin/wasm-opt" ]; then return; fi
  ensure_node
  step "Installing wasm-opt (npm binaryen $BINARYEN_VERSION) into .tools/"
  mkdir -p "$ROOT/.tools"
  npm install --prefix "$ROOT/.tools" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  done_step
}

ensure_build_tools() {
  ensure_rust
  ensure_cargo_leptos
  ensure_wasm_bindgen
}

# PostgreSQL for the second test pass: Debian's server, in a throwaway cluster on loopback that
# lives as long as the calling script. Skipped when GATEHOUSE_TEST_POSTGRES already names a
# server. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
# that Debian's package creates. Tests run without fsync (the cluster is thrown away anyway);
# `start_test_postgres durable` keeps PostgreSQL's defaults, for benchmarks.
start_test_postgres() {
  if [ -n "${GATEHOUSE_TEST_POSTGRES:-}" ]; then return; fi
  local fsync=off; [ "${1:-}" = durable ] && fsync=on
  # The client package alone also has /usr/lib/postgresql/<version>/bin: look for the server.
  local server
  server=$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -1)
  ensure_apt "${server:-/usr/lib/postgresql/none/bin/postgres}" postgresql
  local bin port=15432 run=()  # below the ephemeral range (32768+), which outgoing connections use
  bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")
  PG_DATA=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DATA"; run=(runuser -u postgres --); fi
  PG_CTL=("${run[@]}" "$bin/pg_ctl" -D "$PG_DATA")
  while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
  step "Starting PostgreSQL ($("$bin/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port"
  "${run[@]}" "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust --no-sync >/dev/null
  on_exit stop_test_postgres
  "${PG_CTL[@]}" -l "$PG_DATA/server.log" -w start -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$PG_DATA -c fsync=$fsync -c max_connections=400" \
    >/dev/null
  export GATEHOUSE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
  done_step
}

stop_test_postgres() {
  "${PG_CTL[@]}" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA"
}
