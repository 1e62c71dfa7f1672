#!/usr/bin/env bash
# Run a command with what Skiff's window and its tests need from the desktop:
#
#   - a display: $DISPLAY if set, else a private Xvfb started here (and stopped on exit);
#   - a Secret Service: a private D-Bus session with an unlocked gnome-keyring, whose
#     keyrings live in a temp folder (never the person's own login keyring).
#
# Usage:
#   tests/gui-session.sh test CMD ARGS...   always a private bus + keyring; Xvfb on a free
#                                           display when $DISPLAY is unset
#   tests/gui-session.sh run  CMD ARGS...   the desktop's own bus and keyring when there is
#                                           one; Xvfb on :99 when $DISPLAY is unset
#
# The command's exit status is this script's exit status.
set -euo pipefail

mode=${1:?usage: gui-session.sh test|run CMD ARGS...}
shift
[ $# -gt 0 ] || { echo "gui-session.sh: no command given" >&2; exit 2; }

xvfb_pid=""
state_dir=$(mktemp -d "${TMPDIR:-/tmp}/skiff-gui-session.XXXXXX")
cleanup() {
    if [ -n "$xvfb_pid" ]; then
        kill "$xvfb_pid" 2>/dev/null || true
        wait "$xvfb_pid" 2>/dev/null || true
    fi
    rm -rf "$state_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

display_free() {
    local n=$1
    [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]
}

start_xvfb() {
    local n=$1
    Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp -noreset >"$state_dir/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 1 100); do
        if [ -S "/tmp/.X11-unix/X$n" ]; then
            export DISPLAY=":$n"
            export SKIFF_XVFB=1
            return 0
        fi
        if ! kill -0 "$xvfb_pid" 2>/dev/null; then
            echo "Xvfb :$n did not start:" >&2
            cat "$state_dir/xvfb.log" >&2
            xvfb_pid=""
            return 1
        fi
        sleep 0.1
    done
    echo "Xvfb :$n did not open its socket within 10 s:" >&2
    cat "$state_dir/xvfb.log" >&2
    return 1
}

if [ -z "${DISPLAY:-}" ]; then
    command -v Xvfb >/dev/null || { echo "no \$DISPLAY and no Xvfb (apt-get install xvfb)" >&2; exit 1; }
    if [ "$mode" = run ]; then
        display_free 99 || { echo "display :99 is taken (another Xvfb?); set DISPLAY=:99 to use it" >&2; exit 1; }
        start_xvfb 99
        echo "=================================================================="
        echo " No \$DISPLAY: Skiff's window is on the virtual display :99 (Xvfb)."
        echo " Take a screenshot with:  import -display :99 -window root shot.png"
        echo "=================================================================="
    else
        n=99
        until display_free "$n"; do n=$((n + 1)); done
        start_xvfb "$n"
        echo "gui-session: Xvfb on $DISPLAY"
    fi
fi

# The command runs as "$@" of an inner sh, after the keyring daemon is up.
keyring_then_exec='set -e
mkdir -p "$SKIFF_KEYRING_HOME"
# --unlock creates the login keyring (password "skiff") when the folder holds none.
echo -n skiff | XDG_DATA_HOME="$SKIFF_KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null
exec "$@"'

need_bus=yes
if [ "$mode" = run ] && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    need_bus=no
fi

status=0
if [ "$need_bus" = yes ]; then
    command -v dbus-run-session >/dev/null || { echo "dbus-run-session missing (apt-get install dbus-x11 dbus)" >&2; exit 1; }
    command -v gnome-keyring-daemon >/dev/null || { echo "gnome-keyring-daemon missing (apt-get install gnome-keyring)" >&2; exit 1; }
    if [ "$mode" = run ]; then
        # A lasting keyring for `make run` on a machine without a desktop session.
        keyring_home="${XDG_DATA_HOME:-$HOME/.local/share}/skiff/headless-keyring"
    else
        keyring_home="$state_dir/keyring"
    fi
    SKIFF_KEYRING_HOME="$keyring_home" dbus-run-session -- sh -c "$keyring_then_exec" sh "$@" || status=$?
else
    "$@" || status=$?
fi
exit "$status"
