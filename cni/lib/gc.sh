# shellcheck shell=bash
# GC (1.1.0): every reservation, and every port of the bridge that ADD
# made, whose attachment is not in cni.dev/valid-attachments goes.
cmd_gc() {
  version_at_least "$CNI_VER" 1.1.0 || cni_fail 1 "config version does not allow GC"
  load_network
  local -A valid=()
  local p=.cni.dev/valid-attachments i n=${JN[.cni.dev/valid-attachments]-0} f owner port alias
  for ((i = 0; i < n; i++)); do
    valid["${JV[${p}[$i].containerID]-}/${JV[${p}[$i].ifname]-}"]=1
  done
  [[ -d $IPAM_DIR ]] || return 0
  ipam_lock
  ipam_files "$IPAM_DIR"
  for f in "${FILES[@]}"; do
    ipam_owner "$f"
    [[ $REPLY == *$'\r\n'* ]] || continue
    owner=${REPLY%%$'\r\n'*}/${REPLY#*$'\r\n'}
    [[ -n ${valid[$owner]-} ]] && continue
    veth_name "${owner%%/*}" "${owner#*/}"
    link_del_owned "$REPLY" "${owner%%/*}" "${owner#*/}"
    unlink "$f" 2>/dev/null
  done
  for port in "/sys/class/net/$BRIDGE/brif/"*; do
    alias=
    read -r alias 2>/dev/null <"/sys/class/net/${port##*/}/ifalias"
    [[ $alias == skiff:* && -z ${valid[${alias#skiff:}]-} ]] || continue
    owner=${alias#skiff:}
    link_del_owned "${port##*/}" "${owner%%/*}" "${owner#*/}"
  done
  ipam_unlock
}

# STATUS (1.1.0): ready to serve ADDs unless every address is taken.
cmd_status() {
  version_at_least "$CNI_VER" 1.1.0 || cni_fail 1 "config version does not allow STATUS"
  load_network
  local size=$((RANGE_END - RANGE_START + 1))
  ((GW >= RANGE_START && GW <= RANGE_END)) && ((size--))
  [[ -d $IPAM_DIR ]] || return 0
  ipam_files "$IPAM_DIR"
  ((${#FILES[@]} < size)) || cni_fail 50 "no IP addresses available in range $SUBNET"
}
