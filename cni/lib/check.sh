# shellcheck shell=bash
# CHECK: what prevResult says ADD made is still there: the reservation, the
# host veth on the bridge (hairpin on), the pod interface (up, same MAC and
# address), its routes and the masquerade rules. Reads /sys for the host
# side; one `ip` in the netns; iptables -C only when masquerading.
cmd_check() {
  version_at_least "$CNI_VER" 0.4.0 || cni_fail 1 "config version does not allow CHECK"
  require_env CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
  require_netns
  load_network
  [[ ${JT[.prevResult]-} == o ]] || cni_fail 7 "invalid network configuration" "required prevResult missing"
  local id=$CNI_CONTAINERID ifname=$CNI_IFNAME addr veth out alias= v= i n dst gw
  prev_address
  addr=$REPLY
  [[ -n $addr ]] || cni_fail 104 "prevResult has no address for $ifname"
  ip4_valid "${addr%/*}" || cni_fail 7 "invalid network configuration" "prevResult address $addr is not IPv4"

  ipam_owner "$IPAM_DIR/${addr%/*}"
  [[ $REPLY == "$id"$'\r\n'"$ifname" ]] || cni_fail 104 "no reservation of ${addr%/*} for this container" "$IPAM_DIR"

  veth_name "$id" "$ifname"
  veth=$REPLY
  [[ -e /sys/class/net/$veth ]] || cni_fail 104 "host interface $veth is missing"
  read -r alias <"/sys/class/net/$veth/ifalias"
  [[ $alias == "skiff:$id/$ifname" ]] || cni_fail 104 "host interface $veth belongs to another attachment" "$alias"
  [[ /sys/class/net/$veth/master -ef /sys/class/net/$BRIDGE ]] || cni_fail 104 "$veth is not a port of $BRIDGE"
  if [[ $HAIRPIN == true ]]; then
    read -r v <"/sys/class/net/$veth/brport/hairpin_mode"
    [[ $v == 1 ]] || cni_fail 104 "hairpin mode is off on $veth"
  fi

  netns_ip "$CNI_NETNS"
  # (No "link show": in one batch it leaves ip printing links for "addr show".)
  BATCH="addr show dev $ifname
route show dev $ifname"
  out=$("${IP_NS[@]}" -batch - 2>&1 <<<"$BATCH") || cni_fail 104 "$ifname is missing in $CNI_NETNS" "$out"
  [[ ${out%%$'\n'*} == *[\<,]UP[,\>]* ]] || cni_fail 104 "$ifname is down in $CNI_NETNS" "$out"
  [[ -z $PREV_MAC || ${out,,} == *"link/ether ${PREV_MAC,,} "* ]] || cni_fail 104 "$ifname does not have MAC $PREV_MAC" "$out"
  [[ $out == *" inet $addr "* ]] || cni_fail 104 "$ifname does not have address $addr" "$out"
  n=${JN[.prevResult.routes]-0}
  for ((i = 0; i < n; i++)); do
    dst=${JV[.prevResult.routes[$i].dst]-} gw=${JV[.prevResult.routes[$i].gw]-}
    [[ $dst == 0.0.0.0/0 ]] && dst=default
    dst=${dst%/32}
    [[ $out == *$'\n'"$dst ${gw:+via $gw }"* || $out == "$dst ${gw:+via $gw }"* ]] ||
      cni_fail 104 "route to $dst${gw:+ via $gw} is missing in $CNI_NETNS" "$out"
  done
  masq_verify || cni_fail 104 "masquerade rules are missing" "$REPLY"
}
