#!/usr/bin/env bash
# videokit's two Quickstart commands, on a fresh Debian/Ubuntu machine with Python 3.11 (root or sudo):
#
#   bash bootstrap.sh demo   # set up, generate three sample videos, process them into demo/library, search it
#   bash bootstrap.sh test   # set up everything (incl. CPU torch + transformers), run lint + the whole suite
#
# Each installs what it needs and only that: ffmpeg, tesseract, espeak-ng (speech for sample and test
# videos) and python3-venv through apt when missing (the tests also redis, chromium and chromium-driver),
# then a virtualenv in .venv (kept between runs; re-installed when pyproject.toml changes).
# Needs nothing but bash, apt and Python 3.11 (no make). Extra pytest arguments: PYTEST_ARGS="-k scenes".
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
BIN=$VENV/bin
LIB=${LIB:-demo/library}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

system() {
    local missing="" tool
    for tool in ffmpeg:ffmpeg tesseract:tesseract-ocr espeak-ng:espeak-ng fc-match:fonts-dejavu-core "$@"; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
    done
    "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$missing python3-venv"
    if [ -n "$missing" ]; then
        echo "installing system packages:$missing"
        sudo_ apt-get update -qq
        # shellcheck disable=SC2086 # one word per package
        sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing fontconfig >/dev/null
    fi
}

venv() {
    if [ ! -x "$BIN/python" ]; then
        "$PYTHON" -m venv "$VENV"
        "$BIN/pip" install -q --upgrade pip
    fi
}

fresh() { [ -f "$VENV/$1" ] && [ "$VENV/$1" -nt pyproject.toml ]; }

# The demo runs the default pipeline: the CPU builtin analyzer, transcription and embeddings (whose
# sentence-transformers needs torch: the CPU wheel first, the rest constrained so nothing pulls CUDA).
venv_demo() {
    system
    venv
    fresh .demo || {
        "$BIN/pip" install -q torch==2.13.0
        "$BIN/pip" install -q -c constraints.txt -e ".[builtin,search,web]"
        touch "$VENV/.demo"
    }
}

venv_dev() {
    system redis-server:redis-server chromium:chromium chromedriver:chromium-driver
    venv
    fresh .dev || {
        "$BIN/pip" install -q torch==2.13.0
        "$BIN/pip" install -q -c constraints.txt -e ".[all,dev]"
        touch "$VENV/.dev" "$VENV/.demo"
    }
}

case "${1:-}" in
demo)
    venv_demo
    scripts/make_sample.sh demo/media
    "$BIN/videokit" --library "$LIB" run demo/media
    "$BIN/videokit" --library "$LIB" search --json
    "$BIN/videokit" --library "$LIB" search harbour
    "$BIN/videokit" --library "$LIB" search --moments "how should I keep bread fresh"
    echo
    echo "Browse it in the web UI:  $BIN/videokit --library $LIB serve --signin-link   (then open the sign-in link it prints)"
    ;;
test)
    venv_dev
    "$BIN/ruff" check src tests benchmarks
    "$BIN/ruff" format --check src tests benchmarks
    # shellcheck disable=SC2086 # PYTEST_ARGS is a list of words
    "$BIN/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-}
    ;;
bench)
    venv_dev
    for b in scenes analysis retag workers; do "$BIN/python" "benchmarks/$b.py"; done
    ;;
*)
    echo "usage: bash bootstrap.sh demo|test|bench" >&2
    exit 2
    ;;
esac
