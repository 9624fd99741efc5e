#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, or stops the one we started.
#
#   scripts/dockerd.sh ensure   nothing if the socket answers; else `systemctl enable --now
#                               docker` under systemd; else dockerd started detached (setsid,
#                               cgroupfs driver, log /var/log/skiff/dockerd.log, pid file
#                               /run/skiff/dockerd.pid) and waited for with a deadline.
#   scripts/dockerd.sh stop     stops only the dockerd whose pid file we wrote; waits for it.
#   scripts/dockerd.sh status   exit 0 when the engine answers.
#
# The probe is `GET /_ping` on the socket (curl, ~10 ms), falling back to Debian's client
# /usr/bin/docker: /usr/local/bin/docker may be a newer client that refuses this daemon's API.
# Errors are one line on stderr, exit 1. The SKIFF_DOCKER* variables exist so a second,
# isolated engine can be tried out without touching the host's (extra dockerd flags then
# give it its own -H, --data-root, --exec-root, --pidfile, --bridge=none, --iptables=false).
set -euo pipefail
sock=${SKIFF_DOCKER_SOCK:-/var/run/docker.sock}
pidfile=${SKIFF_DOCKERD_PIDFILE:-/run/skiff/dockerd.pid}
logfile=${SKIFF_DOCKERD_LOG:-/var/log/skiff/dockerd.log}
deadline_s=${SKIFF_DOCKERD_TIMEOUT:-60}
read -r -a extra_args <<<"${SKIFF_DOCKERD_ARGS:-}"

fail() { echo "dockerd: $*" >&2; exit 1; }

answers() {
  [ -S "$sock" ] || return 1
  if command -v curl >/dev/null; then
    [ "$(curl -s --max-time 5 --unix-socket "$sock" http://localhost/_ping 2>/dev/null)" = OK ]
  else
    timeout 10 /usr/bin/docker -H "unix://$sock" version >/dev/null 2>&1
  fi
}

# Our dockerd's pid, if the pid file names a live dockerd (a stale file after a reboot
# may name someone else's process: check the command name too).
our_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  read -r pid <"$pidfile" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

wait_for_socket() {
  local pid=${1:-} end=$((SECONDS + deadline_s))
  while ! answers; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      fail "dockerd exited during start-up; last lines of $logfile: $(tail -n 3 "$logfile" 2>/dev/null | tr '\n' ' ')"
    fi
    [ "$SECONDS" -lt "$end" ] || fail "no answer on $sock after ${deadline_s}s; see $logfile"
    sleep 0.1
  done
}

ensure() {
  answers && return 0
  [ "$(id -u)" = 0 ] || fail "the Docker engine does not answer on $sock and starting it needs root"
  command -v dockerd >/dev/null || fail "dockerd is not installed: apt-get install -y docker.io"
  if [ -d /run/systemd/system ]; then
    systemctl enable --now docker >/dev/null 2>&1 || fail "systemctl enable --now docker failed: see journalctl -u docker"
    wait_for_socket
    return 0
  fi
  local pid
  if pid=$(our_pid); then
    # Ours is starting (or hung): give it the deadline rather than starting a second one.
    wait_for_socket "$pid"
    return 0
  fi
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  # Without systemd there is no systemd cgroup driver to use. dockerd writes its own
  # pid file (/var/run/docker.pid); ours records that we started it.
  setsid dockerd --exec-opt native.cgroupdriver=cgroupfs "${extra_args[@]}" >>"$logfile" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_for_socket "$pid"
}

stop() {
  local pid
  pid=$(our_pid) || { rm -f "$pidfile"; return 0; }
  kill -TERM "$pid"
  local end=$((SECONDS + deadline_s))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "dockerd (pid $pid) did not exit within ${deadline_s}s of SIGTERM"
    sleep 0.1
  done
  rm -f "$pidfile"
}

case "${1:-}" in
  ensure) ensure ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 ensure|stop|status" >&2; exit 2 ;;
esac
