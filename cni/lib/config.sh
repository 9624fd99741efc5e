# shellcheck shell=bash
# Inputs: the CNI_* environment and the network configuration on stdin. Every
# value is checked against a strict pattern before it is used, and values are
# only ever passed as single arguments or as whitespace-free words of an
# `ip -batch` line; nothing is evaluated.

readonly SUPPORTED_VERSIONS=(0.3.0 0.3.1 0.4.0 1.0.0 1.1.0)
readonly ID_RE='^[A-Za-z0-9][A-Za-z0-9_.-]*$'
# Interface names: what the kernel accepts minus '/', ':', whitespace (the
# spec) and the characters `ip -batch` would treat as quotes or comments.
readonly IFNAME_RE='^[A-Za-z0-9_.@+=-]{1,15}$'
readonly PATH_RE='^/[A-Za-z0-9_./:@+=-]*$'
readonly CNI_ARGS_RE='^(;*[A-Za-z0-9_-]+=[^;[:cntrl:]]*)*;*$'

# rollback: what cni_fail undoes; ADD redefines it.
rollback() { :; }

# cni_fail CODE MSG [DETAILS]: undoes what this ADD did, prints the CNI error
# object on stdout and exits non-zero.
cni_fail() {
  local m d who
  rollback
  json_str m "$2"
  json_str d "${3-}"
  printf '{"cniVersion":"%s","code":%d,"msg":%s,"details":%s}\n' "$CNI_VER" "$1" "$m" "$d"
  json_str who "${CNI_COMMAND-} ${CNI_CONTAINERID:0:80}"
  printf 'skiff-bridge %s: %s: %s\n' "${who:1:-1}" "${m:1:-1}" "${d:1:-1}" >&2
  exit 1
}

# version_at_least A B: A >= B, both x.y.z.
version_at_least() {
  local IFS=.
  # shellcheck disable=SC2206 # split on dots; both are from SUPPORTED_VERSIONS
  local -a a=($1) b=($2)
  ((a[0] != b[0])) && { ((a[0] > b[0])); return; }
  ((a[1] != b[1])) && { ((a[1] > b[1])); return; }
  ((a[2] >= b[2]))
}

# require_env NAMES...: each must be set and valid; NETNS must exist for ADD/CHECK.
require_env() {
  local v
  for v in "$@"; do
    [[ -n ${!v-} ]] || cni_fail 4 "required environment variable $v is missing"
  done
  if [[ -n ${CNI_CONTAINERID-} ]]; then
    [[ $CNI_CONTAINERID =~ $ID_RE ]] || cni_fail 4 "invalid CNI_CONTAINERID" "must match $ID_RE"
    ((${#CNI_CONTAINERID} <= 200)) || cni_fail 4 "invalid CNI_CONTAINERID" "longer than 200 characters"
  fi
  if [[ -n ${CNI_IFNAME-} ]]; then
    [[ $CNI_IFNAME =~ $IFNAME_RE && $CNI_IFNAME != . && $CNI_IFNAME != .. ]] ||
      cni_fail 4 "invalid CNI_IFNAME" "1-15 characters of [A-Za-z0-9_.@+=-], not '.' or '..'"
  fi
  if [[ -n ${CNI_NETNS-} ]]; then
    [[ $CNI_NETNS =~ $PATH_RE && $CNI_NETNS != *..* ]] || cni_fail 4 "invalid CNI_NETNS" "must be an absolute path of [A-Za-z0-9_./:@+=-]"
  fi
  if [[ -n ${CNI_ARGS-} ]]; then
    [[ $CNI_ARGS =~ $CNI_ARGS_RE ]] || cni_fail 4 "invalid CNI_ARGS" "expected KEY=VALUE pairs separated by ';'"
  fi
}

# require_netns: CNI_NETNS must name an existing namespace file.
require_netns() {
  [[ -e $CNI_NETNS && ! -d $CNI_NETNS ]] || cni_fail 4 "invalid CNI_NETNS" "$CNI_NETNS does not exist or is not a file"
}

# cfg_get PATH TYPE DEFAULT: REPLY = the value at PATH, which must have TYPE
# (s, n, b, o, a) when present; DEFAULT when absent or null.
cfg_get() {
  local t=${JT[$1]-}
  if [[ -z $t || $t == z ]]; then
    REPLY=$3
    return 0
  fi
  [[ $t == "$2" ]] || cni_fail 7 "invalid network configuration" "${1#.} has the wrong type"
  REPLY=${JV[$1]-}
}

# read_config: parses stdin and sets CNI_VER. VERSION answers whatever it
# gets (it only echoes a supported cniVersion back).
read_config() {
  CONF=
  read -r -N 1048577 CONF # at most 1 MiB (and one byte to notice more)
  if [[ $CNI_COMMAND == VERSION ]]; then
    json_parse "$CONF" || JV=()
    return 0
  fi
  ((${#CONF} <= 1048576)) || cni_fail 6 "failed to decode the network configuration" "larger than 1 MiB"
  json_parse "$CONF" || cni_fail 6 "failed to decode the network configuration" "$JSON_ERR"
  [[ ${JT[.]} == o ]] || cni_fail 6 "failed to decode the network configuration" "not a JSON object"
  cfg_get .cniVersion s ""
  local v=$REPLY
  [[ -n $v ]] || cni_fail 7 "invalid network configuration" "cniVersion is required"
  [[ " ${SUPPORTED_VERSIONS[*]} " == *" $v "* ]] ||
    cni_fail 1 "incompatible CNI version" "config version $v; supported: ${SUPPORTED_VERSIONS[*]}"
  CNI_VER=$v
}

# load_network: the fields ADD, DEL, CHECK, GC and STATUS use.
load_network() {
  cfg_get .name s ""
  NET_NAME=$REPLY
  [[ -n $NET_NAME ]] || cni_fail 7 "invalid network configuration" "name is required"
  [[ $NET_NAME =~ $ID_RE ]] || cni_fail 7 "invalid network configuration" "name must match $ID_RE"
  cfg_get .type s ""
  [[ -n $REPLY ]] || cni_fail 7 "invalid network configuration" "type is required"
  cfg_get .bridge s skiff0
  BRIDGE=$REPLY
  [[ $BRIDGE =~ $IFNAME_RE ]] || cni_fail 7 "invalid network configuration" "bridge must be a valid interface name"
  cfg_get .mtu n ""
  MTU=$REPLY
  [[ -z $MTU || ($MTU =~ ^[0-9]{2,5}$ && MTU -ge 68 && MTU -le 65535) ]] || cni_fail 7 "invalid network configuration" "mtu must be an integer in 68-65535"
  cfg_get .hairpinMode b true
  HAIRPIN=$REPLY
  cfg_get .ipMasq b true
  IP_MASQ=$REPLY
  cfg_get .clusterCIDR s 10.244.0.0/16
  CLUSTER_CIDR=$REPLY
  cidr4_parse "$CLUSTER_CIDR" || cni_fail 7 "invalid network configuration" "clusterCIDR must be an IPv4 CIDR without host bits"
  cfg_get .iptables s iptables
  IPTABLES=$REPLY
  [[ $IPTABLES =~ ^iptables(-legacy|-nft)?$ ]] || cni_fail 7 "invalid network configuration" "iptables must be iptables, iptables-legacy or iptables-nft"
  [[ -z ${JT[.dns]-} || ${JT[.dns]} == [oz] ]] || cni_fail 7 "invalid network configuration" "dns must be an object"
  [[ ${JT[.ipam]-} == o ]] || cni_fail 7 "invalid network configuration" "ipam is required"
  cfg_get .ipam.type s host-local
  [[ $REPLY == host-local ]] || cni_fail 7 "invalid network configuration" "ipam.type must be host-local (IPAM is built in)"
  cfg_get .ipam.dataDir s /var/lib/cni/networks
  [[ $REPLY =~ $PATH_RE && $REPLY != *..* ]] || cni_fail 7 "invalid network configuration" "ipam.dataDir must be an absolute path"
  IPAM_DIR=${REPLY%/}/$NET_NAME
  load_range
  load_routes
}

# load_range: the range from ipam.subnet or ipam.ranges[0][0] (host-local's
# two shapes). Sets SUBNET, PLEN, RANGE_START, RANGE_END, GW (ints) and GW_IP.
load_range() {
  local p=.ipam
  if [[ -n ${JT[.ipam.ranges]-} ]]; then
    [[ ${JT[.ipam.ranges]} == a && ${JN[.ipam.ranges]} == 1 && ${JT[.ipam.ranges[0]]} == a && ${JN[.ipam.ranges[0]]} == 1 ]] ||
      cni_fail 7 "invalid network configuration" "ipam.ranges must hold exactly one range set with one range (IPv4 only)"
    p='.ipam.ranges[0][0]'
  fi
  cfg_get "$p.subnet" s ""
  SUBNET=$REPLY
  [[ -n $SUBNET ]] || cni_fail 7 "invalid network configuration" "ipam.subnet (or ipam.ranges) is required"
  [[ $SUBNET == *:* ]] && cni_fail 7 "invalid network configuration" "IPv6 ranges are not supported"
  cidr4_parse "$SUBNET" && ((CIDR_PLEN <= 30)) || cni_fail 7 "invalid network configuration" "subnet $SUBNET must be an IPv4 CIDR of /30 or larger, without host bits"
  PLEN=$CIDR_PLEN
  local net=$CIDR_NET bc=$CIDR_BCAST
  cfg_get "$p.gateway" s ""
  if [[ -n $REPLY ]]; then
    ip4_valid "$REPLY" || cni_fail 7 "invalid network configuration" "gateway must be an IPv4 address"
    ip4_int "$REPLY"
    GW=$REPLY
  else
    GW=$((net + 1))
  fi
  range_bound "$p.rangeStart" $((net + 1)) "$net" "$bc"
  RANGE_START=$REPLY
  range_bound "$p.rangeEnd" $((bc - 1)) "$net" "$bc"
  RANGE_END=$REPLY
  ((GW > net && GW < bc && RANGE_START <= RANGE_END)) || cni_fail 7 "invalid network configuration" "gateway and range must lie inside $SUBNET"
  ip4_str "$GW"
  GW_IP=$REPLY
}

# range_bound PATH DEFAULT NET BCAST: REPLY = the address at PATH (inside the
# subnet, not its network or broadcast address) or DEFAULT.
range_bound() {
  cfg_get "$1" s ""
  if [[ -z $REPLY ]]; then
    REPLY=$2
    return 0
  fi
  ip4_valid "$REPLY" || cni_fail 7 "invalid network configuration" "${1#.} must be an IPv4 address"
  ip4_int "$REPLY"
  ((REPLY > $3 && REPLY < $4)) || cni_fail 7 "invalid network configuration" "${1#.} is outside the subnet"
}

# load_routes: ROUTE_DST/ROUTE_GW from ipam.routes (gw defaults to the
# gateway); without ipam.routes, a default route via the gateway.
load_routes() {
  ROUTE_DST=() ROUTE_GW=()
  if [[ -z ${JT[.ipam.routes]-} || ${JT[.ipam.routes]} == z ]]; then
    ROUTE_DST=(0.0.0.0/0) ROUTE_GW=("$GW_IP")
    return 0
  fi
  [[ ${JT[.ipam.routes]} == a ]] || cni_fail 7 "invalid network configuration" "ipam.routes must be a list"
  local i n=${JN[.ipam.routes]}
  for ((i = 0; i < n; i++)); do
    cfg_get ".ipam.routes[$i].dst" s ""
    cidr4_parse "$REPLY" || cni_fail 7 "invalid network configuration" "ipam.routes[$i].dst must be an IPv4 CIDR"
    ROUTE_DST+=("$REPLY")
    cfg_get ".ipam.routes[$i].gw" s "$GW_IP"
    ip4_valid "$REPLY" || cni_fail 7 "invalid network configuration" "ipam.routes[$i].gw must be an IPv4 address"
    ROUTE_GW+=("$REPLY")
  done
}

# prev_address: REPLY = prevResult's address (CIDR) for CNI_IFNAME, or "";
# PREV_MAC its MAC.
prev_address() {
  local i n=${JN[.prevResult.interfaces]-0} idx= p
  REPLY= PREV_MAC=
  for ((i = 0; i < n; i++)); do
    p=.prevResult.interfaces[$i]
    if [[ ${JV[$p.name]-} == "$CNI_IFNAME" && -n ${JV[$p.sandbox]-} ]]; then
      idx=$i PREV_MAC=${JV[$p.mac]-}
      break
    fi
  done
  n=${JN[.prevResult.ips]-0}
  for ((i = 0; i < n; i++)); do
    p=.prevResult.ips[$i]
    if [[ -z $idx || ${JV[$p.interface]-} == "$idx" ]]; then
      REPLY=${JV[$p.address]-}
      return 0
    fi
  done
}
