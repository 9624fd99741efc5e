# shellcheck shell=bash
# host-local style IPv4 address management, same on-disk layout as the
# reference host-local plugin, so either can read the other's state:
#   <dataDir>/<network>/<ip>               "<containerID>\r\n<ifname>", one per IP
#   <dataDir>/<network>/last_reserved_ip.0  the allocation cursor
#   <dataDir>/<network>/lock                flock(2)ed around allocation
# An IP is reserved by creating its file with O_EXCL (bash noclobber), so an
# address can never be handed out twice even if the lock were bypassed; the
# lock keeps the cursor consistent and makes concurrent ADDs take turns.

# ip4_valid TEXT: a dotted quad, octets of at most three digits without
# leading zeros (bash would read those as octal) and below 256. (A glob:
# bash compiles a regex on every match, ~40x slower here.)
ip4_valid() {
  [[ $1 == @(0|[1-9]?([0-9])?([0-9])).@(0|[1-9]?([0-9])?([0-9])).@(0|[1-9]?([0-9])?([0-9])).@(0|[1-9]?([0-9])?([0-9])) ]] || return 1
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  (($1 < 256 && $2 < 256 && $3 < 256 && $4 < 256))
}

# ip4_int TEXT: REPLY = the address as a 32-bit integer (TEXT must be valid).
ip4_int() {
  local IFS=.
  # shellcheck disable=SC2086
  set -- $1
  REPLY=$((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}

# ip4_str INT: REPLY = dotted quad.
ip4_str() {
  REPLY=$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))
}

# cidr4_parse TEXT: sets CIDR_NET (int), CIDR_PLEN, CIDR_BCAST (int); fails on a
# malformed CIDR or one with host bits set (host-local rejects those too).
cidr4_parse() {
  local ip=${1%/*} plen=${1##*/}
  [[ $1 == */* && $plen =~ ^(3[0-2]|[12]?[0-9])$ ]] && ip4_valid "$ip" || return 1
  ip4_int "$ip"
  local mask=$(((0xffffffff << (32 - plen)) & 0xffffffff))
  ((REPLY & ~mask & 0xffffffff)) && return 1
  CIDR_NET=$REPLY CIDR_PLEN=$plen CIDR_BCAST=$((REPLY | (~mask & 0xffffffff)))
}

# ipam_files DIR: FILES = the reservation files in DIR (not the lock or cursor).
ipam_files() {
  FILES=()
  local f
  for f in "$1"/*; do
    case ${f##*/} in lock | last_reserved_ip.* | *.tmp) ;; *) FILES+=("$f") ;; esac
  done
}

# ipam_owner FILE: REPLY = "<id>\r\n<ifname>" as stored (trailing whitespace trimmed).
ipam_owner() {
  REPLY=
  read -r -d '' REPLY 2>/dev/null <"$1"
  REPLY=${REPLY%%+([$'\n\r '])}
}

# ipam_allocate DIR ID IFNAME START END GW: reserves the next free address
# after the cursor (wrapping), skipping the gateway; REPLY = the address.
# The caller holds the lock. Returns 1 when the range is full.
ipam_allocate() {
  local dir=$1 owner=$2$'\r\n'$3 start=$4 end=$5 gw=$6 cur n i
  cur=$((start - 1)) i=
  read -r -d '' i 2>/dev/null <"$dir/last_reserved_ip.0"
  i=${i%%+([$'\n\r '])}
  if ip4_valid "$i"; then
    ip4_int "$i"
    ((REPLY >= start && REPLY <= end)) && cur=$REPLY
  fi
  n=$((end - start + 1))
  for ((i = 0; i < n; i++)); do
    ((cur = cur >= end ? start : cur + 1))
    ((cur == gw)) && continue
    ip4_str "$cur"
    [[ -e $dir/$REPLY ]] && continue
    # noclobber (set -C, on for the whole plugin) makes '>' an O_EXCL
    # create: losing a race is just "taken".
    if { printf '%s' "$owner" >"$dir/$REPLY"; } 2>/dev/null; then
      printf '%s' "$REPLY" >|"$dir/last_reserved_ip.0"
      return 0
    fi
  done
  return 1
}

# ipam_release DIR ID IFNAME [HINT]: removes the reservations of (ID, IFNAME).
# HINT (the address from prevResult) is tried first: when it is theirs, that
# is the only one (ADD reserves one), and the scan of every file is saved.
ipam_release() {
  local dir=$1 owner=$2$'\r\n'$3 f
  if [[ -n ${4-} ]] && ip4_valid "$4" && [[ -f $dir/$4 ]]; then
    ipam_owner "$dir/$4"
    [[ $REPLY == "$owner" ]] && { unlink "$dir/$4" 2>/dev/null; return 0; }
  fi
  ipam_files "$dir"
  for f in "${FILES[@]}"; do
    ipam_owner "$f"
    [[ $REPLY == "$owner" ]] && unlink "$f" 2>/dev/null
  done
  return 0
}

# ipam_lock / ipam_unlock: flock(2) on <dir>/lock, as host-local does. The
# lock belongs to the open file, so flock(1) can take it on our descriptor
# and exit; closing the descriptor (or exiting) releases it.
ipam_lock() {
  if [[ ! -d $IPAM_DIR ]]; then
    mkdir -p -m 0755 "$IPAM_DIR" 2>/dev/null || [[ -d $IPAM_DIR ]] || cni_fail 100 "cannot create $IPAM_DIR"
  fi
  exec {LOCK_FD}>>"$IPAM_DIR/lock" || cni_fail 100 "cannot open $IPAM_DIR/lock"
  flock -w 30 "$LOCK_FD" || cni_fail 11 "timed out waiting for the IPAM lock" "$IPAM_DIR/lock"
}
ipam_unlock() {
  exec {LOCK_FD}>&-
}
