#!/usr/bin/env bash
# The report as a person sees it: renders an HTML report in headless Chromium, checks that the
# charts and the ranking table are there and that the page makes no network request, and saves a
# screenshot.
#
# Usage: tests/report/chromium-check.sh [REPORT.html] [OUT_DIR]
#   REPORT.html  the report to check; default: the demo's report when $DROPSCOPE names a built
#                dropscope binary (DROPSCOPE=target/release/dropscope), else the report crate's
#                fixed sample (cargo run -p dropscope-report --example sample_report).
#   OUT_DIR      where the screenshot, DOM dump and net log go; default: a new temp dir.
#
# Chromium comes from Debian's `chromium` package, installed here when absent (needs root and
# apt). When the browser cannot be had, the check says SKIPPED and exits 0; every other failure
# exits 1.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$(mktemp -d)}
mkdir -p "$out"

log() { printf 'chromium-check: %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

find_browser() {
    for name in chromium chromium-browser google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

browser=$(find_browser || true)
if [ -z "$browser" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian's chromium (apt-get)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$out/apt.log" 2>&1; then
            log "apt-get could not install chromium (see $out/apt.log)"
        fi
        browser=$(find_browser || true)
    fi
fi
if [ -z "$browser" ]; then
    log "SKIPPED: no Chromium available (install Debian's \`chromium\` package to run this check)"
    exit 0
fi
log "browser: $browser ($("$browser" --version 2>/dev/null || echo unknown version))"

# The report to check.
html=${1:-}
if [ -z "$html" ]; then
    cd "$root"
    if [ -n "${DROPSCOPE:-}" ] && "$DROPSCOPE" demo -o "$out/demo" >"$out/demo.log" 2>&1 && [ -f "$out/demo/report.html" ]; then
        html="$out/demo/report.html"
        log "checking the demo's report"
    else
        [ -n "${DROPSCOPE:-}" ] && log "dropscope demo failed (see $out/demo.log)"
        log "checking the report crate's sample"
        html="$out/sample-report.html"
        cargo run -q -p dropscope-report --example sample_report -- "$html"
    fi
fi
[ -f "$html" ] || fail "no such report: $html"
html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")

# 1. Static check: nothing in the page can load anything. The SVG namespace is a name, not a load.
if grep -Eio '(src|href|action|poster|data)[[:space:]]*=[[:space:]]*["'"'"']?[[:space:]]*(https?:)?//' "$html" | head -5 | grep -q .; then
    fail "the page references an external resource"
fi
if grep -Eiq '<(script|link|img|iframe|object|embed)[[:space:]>]|@import|url\(' "$html"; then
    fail "the page contains a script, link, image, frame, @import or url()"
fi
grep -q "Content-Security-Policy" "$html" || fail "no Content-Security-Policy"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
    --disable-component-update --disable-sync --disable-default-apps --disable-extensions
    --hide-scrollbars --force-color-profile=srgb)

# 2. The DOM as the browser built it: charts and the ranking table are present.
"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d)" --virtual-time-budget=3000 \
    --dump-dom "file://$html" >"$out/dom.html" 2>"$out/dump-dom.log" || fail "chromium --dump-dom failed (see $out/dump-dom.log)"
n_svg=$(grep -o '<svg' "$out/dom.html" | wc -l)
[ "$n_svg" -ge 3 ] || fail "expected 3 charts (svg), found $n_svg"
grep -q '<table id="ranking">' "$out/dom.html" || fail "the ranking table is missing"
n_causes=$(sed -n '/<table id="ranking">/,/<\/table>/p' "$out/dom.html" | grep -o '<tr class="row' | wc -l)
[ "$n_causes" -ge 1 ] || fail "the ranking table has no rows"
log "DOM: $n_svg charts, ranking table with $n_causes causes"

# Requests a page made, from Chromium's net log: URL requests with a web initiator. Chromium's
# own background traffic (update checks, time sync, accounts) has the initiator "not an origin"
# and is not the page's doing.
page_requests() {
    grep '"initiator":' "$1" | grep -v '"initiator":"not an origin"' \
        | grep -Eo '"url":"[^"]*"' | grep -Ev '"url":"(file|data|about|chrome|devtools):' | sort -u || true
}

# 3. Control: a page that does load something must show up in the net log, or the check below
# would prove nothing.
control="$out/control.html"
printf '<!DOCTYPE html><html><body><img src="http://control.invalid/pixel.png"></body></html>\n' >"$control"
"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d)" --virtual-time-budget=3000 \
    --log-net-log="$out/control-netlog.json" --net-log-capture-mode=Default \
    --dump-dom "file://$control" >/dev/null 2>"$out/control.log" || true
net_log_works=false
if [ -s "$out/control-netlog.json" ] && page_requests "$out/control-netlog.json" | grep -q control.invalid; then
    net_log_works=true
fi

# 4. Screenshot, with the net log: no request may leave the page.
"$browser" "${flags[@]}" --user-data-dir="$(mktemp -d)" --virtual-time-budget=3000 \
    --log-net-log="$out/netlog.json" --net-log-capture-mode=Default \
    --window-size=1280,2400 --screenshot="$out/report.png" "file://$html" >"$out/screenshot.log" 2>&1 \
    || fail "chromium --screenshot failed (see $out/screenshot.log)"
[ -s "$out/report.png" ] || fail "no screenshot written"
if $net_log_works; then
    external=$(page_requests "$out/netlog.json")
    if [ -n "$external" ]; then
        printf '%s\n' "$external" >"$out/external-requests.txt"
        fail "the page made network requests: $(head -3 "$out/external-requests.txt" | tr '\n' ' ')"
    fi
    log "net log: no request left the page (control page's request was seen)"
else
    log "net log did not show the control page's request; relying on the static check above"
fi

log "OK: screenshot $out/report.png"
