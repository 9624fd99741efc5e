# shellcheck shell=bash
# ADD: reserve an address, create the veth pair and configure both ends;
# on any failure, undo what was done (cni_fail calls rollback).

UNDO_VETH= UNDO_IP=

# rollback: undoes what this ADD created so far (called by cni_fail).
rollback() {
  local out
  if [[ -n $UNDO_VETH ]]; then
    BATCH="link del dev $UNDO_VETH"
    ip_batch out ip
    UNDO_VETH=
  fi
  if [[ -n $UNDO_IP ]]; then
    unlink "$UNDO_IP" 2>/dev/null
    UNDO_IP=
  fi
}
trap 'cni_fail 11 "interrupted"' TERM INT HUP

cmd_add() {
  require_env CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
  require_netns
  load_network
  local id=$CNI_CONTAINERID ifname=$CNI_IFNAME veth pod_ip pod_mac br_mac out i dst
  veth_name "$id" "$ifname"
  veth=$REPLY
  mac_for_ip "$GW"
  br_mac=$REPLY

  # Network-wide steps and the reservation, under the network's lock.
  ipam_lock
  ensure_ip_forward
  ensure_bridge "$BRIDGE" "$br_mac" "$MTU"
  ensure_masq
  ipam_allocate "$IPAM_DIR" "$id" "$ifname" "$RANGE_START" "$RANGE_END" "$GW" ||
    cni_fail 102 "no IP addresses available in range $SUBNET" "$IPAM_DIR"
  pod_ip=$REPLY
  UNDO_IP=$IPAM_DIR/$pod_ip
  ipam_unlock
  ip4_int "$pod_ip"
  mac_for_ip "$REPLY"
  pod_mac=$REPLY

  # Host side, one `ip`: the gateway on the bridge, the veth pair with its
  # peer created directly in the pod's netns, the alias DEL and GC trust.
  local mtu=${MTU:+ mtu $MTU} hairpin=
  [[ $HAIRPIN == true ]] && hairpin=" type bridge_slave hairpin on"
  BATCH="addr replace $GW_IP/$PLEN brd + dev $BRIDGE
link set dev $BRIDGE up
link add name $veth$mtu master $BRIDGE up type veth peer name $ifname address $pod_mac$mtu netns $CNI_NETNS
link set dev $veth alias skiff:$id/$ifname$hairpin"
  if ! ip_batch out ip; then
    # Line 3 created the veth: undo it only if ip got past that line (a
    # name clash must not delete someone else's link).
    batch_failed_line "$out"
    ((REPLY > 3)) && UNDO_VETH=$veth
    cni_fail 100 "failed to set up $veth on $BRIDGE" "$out"
  fi
  UNDO_VETH=$veth

  # Pod side, one `ip` in the netns: address, up, routes. (The peer cannot
  # be brought up at creation: the kernel refuses across namespaces.)
  netns_ip "$CNI_NETNS"
  BATCH="addr add $pod_ip/$PLEN brd + dev $ifname
link set dev $ifname up"
  for i in "${!ROUTE_DST[@]}"; do
    dst=${ROUTE_DST[i]}
    [[ $dst == 0.0.0.0/0 ]] && dst=default
    BATCH+=$'\n'"route add $dst via ${ROUTE_GW[i]} dev $ifname"
  done
  ip_batch out "${IP_NS[@]}" || cni_fail 103 "failed to configure $ifname in $CNI_NETNS" "$out"

  local vmac= bmac=
  read -r vmac <"/sys/class/net/$veth/address"
  read -r bmac <"/sys/class/net/$BRIDGE/address"
  UNDO_VETH= UNDO_IP=
  print_result "$pod_ip" "$pod_mac" "$veth" "$vmac" "$bmac"
}

# print_result IP POD_MAC VETH VETH_MAC BRIDGE_MAC: the ADD result in the
# config's cniVersion (before 1.0.0, ips carry "version").
print_result() {
  local ver= routes= dns=${JR[.dns]-} netns i
  version_at_least "$CNI_VER" 1.0.0 || ver='"version":"4",'
  [[ ${JT[.dns]-} == o ]] || dns='{}'
  json_str netns "$CNI_NETNS"
  for i in "${!ROUTE_DST[@]}"; do
    routes+="{\"dst\":\"${ROUTE_DST[i]}\",\"gw\":\"${ROUTE_GW[i]}\"},"
  done
  printf '{"cniVersion":"%s","interfaces":[{"name":"%s","mac":"%s"},{"name":"%s","mac":"%s"},{"name":"%s","mac":"%s","sandbox":%s}],"ips":[{%s"interface":2,"address":"%s/%s","gateway":"%s"}],"routes":[%s],"dns":%s}\n' \
    "$CNI_VER" "$BRIDGE" "$5" "$3" "$4" "$CNI_IFNAME" "$2" "$netns" "$ver" "$1" "$PLEN" "$GW_IP" "${routes%,}" "$dns"
}
