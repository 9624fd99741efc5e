# shellcheck shell=bash
# Links, addresses and routes. Every change goes through one `ip -batch -`
# per namespace (host, pod), so an ADD spawns two `ip` processes; creating
# the bridge happens once, and checks read /sys and /proc instead of
# spawning anything.

# ip_batch OUT_VAR CMD... : runs CMD (an `ip` invocation) with -batch on the
# text in BATCH; OUT_VAR gets stdout+stderr. `$(...)` around a single command
# forks once and execs it directly, so this costs exactly one process.
ip_batch() {
  local -n _out=$1
  shift
  _out=$("$@" -batch - 2>&1 <<<"$BATCH")
}

# batch_failed_line TEXT: REPLY = the batch line `ip` stopped at (0 if unknown).
batch_failed_line() {
  REPLY=0
  [[ $1 =~ Command\ failed\ -:([0-9]+) ]] && REPLY=${BASH_REMATCH[1]}
}

# netns_ip NETNS: IP_NS = the command that runs `ip` inside NETNS. A netns
# bind-mounted under /var/run/netns (containerd, `ip netns add`) is entered
# by `ip -n` itself; any other path (/proc/<pid>/ns/net, docker's) via nsenter.
netns_ip() {
  local name=${1##*/}
  if [[ -n $name && /var/run/netns/$name -ef $1 ]]; then
    IP_NS=(ip -n "$name")
  else
    IP_NS=(nsenter "--net=$1" ip)
  fi
}

# veth_name ID IFNAME: REPLY = "veth" + 8 hex digits hashing "ID/IFNAME";
# deterministic, so DEL and GC find the host side without any state. Bash
# reads the text 10 characters at a time as base-64 numbers (64#...) after
# the characters that are not base-64 digits are escaped (injectively, '@'
# being the escape), which is ~10x cheaper than a loop per character; the
# chunks are mixed FNV-style and finished with murmur3's avalanche.
veth_name() {
  local s="$1/$2" h x i
  s=${s//@/@0} s=${s//./@1} s=${s//-/@2} s=${s//+/@3} s=${s//=/@4} s=${s//\//@5}
  ((h = 2166136261 ^ ${#s}))
  for ((i = 0; i < ${#s}; i += 10)); do
    ((x = 64#${s:i:10},
      h = ((h ^ (x & 0x3fffffff)) * 16777619) & 0xffffffff,
      h = ((h ^ (x >> 30)) * 16777619) & 0xffffffff))
  done
  ((h ^= h >> 16, h = (h * 0x85ebca6b) & 0xffffffff, h ^= h >> 13, h = (h * 0xc2b2ae35) & 0xffffffff, h ^= h >> 16))
  printf -v REPLY 'veth%08x' "$h"
}

# mac_for_ip INT: REPLY = 0a:58:<the IPv4 address in hex>, a locally
# administered unicast MAC (kubenet's scheme): unique wherever the IP is, so a
# pod's MAC is known before its interface exists and survives restarts.
mac_for_ip() {
  printf -v REPLY '0a:58:%02x:%02x:%02x:%02x' $((($1 >> 24) & 255)) $((($1 >> 16) & 255)) $((($1 >> 8) & 255)) $(($1 & 255))
}

# ensure_ip_forward: routing between the bridge and the uplink needs it.
ensure_ip_forward() {
  local v=
  read -r v </proc/sys/net/ipv4/ip_forward
  [[ $v == 1 ]] || echo 1 >|/proc/sys/net/ipv4/ip_forward
}

# ensure_bridge NAME MAC MTU: creates the bridge if missing (with a fixed MAC,
# so the gateway's address never changes as ports come and go). The caller
# holds the network lock, so two ADDs never race to create it. Addresses and
# the up state are (re)applied by every ADD's host batch.
ensure_bridge() {
  local out
  if [[ ! -e /sys/class/net/$1 ]]; then
    BATCH="link add name $1 address $2${3:+ mtu $3} type bridge"
    ip_batch out ip || [[ -d /sys/class/net/$1/bridge ]] || cni_fail 101 "failed to create bridge $1" "$out"
  fi
  [[ -d /sys/class/net/$1/bridge ]] || cni_fail 101 "$1 exists and is not a bridge"
}

# link_del_owned VETH ID IFNAME: deletes VETH if it is the one ADD made for
# (ID, IFNAME), recognised by the alias ADD gave it; a missing link is fine.
link_del_owned() {
  local alias= out
  [[ -e /sys/class/net/$1 ]] || return 0
  read -r alias 2>/dev/null <"/sys/class/net/$1/ifalias"
  [[ $alias == "skiff:$2/$3" ]] || return 0
  BATCH="link del dev $1"
  ip_batch out ip || [[ ! -e /sys/class/net/$1 ]] || { REPLY=$out; return 1; }
}
