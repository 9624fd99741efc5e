# shellcheck shell=bash
# DEL: the veth (only if its alias says it is this attachment's), then the
# reservation. No lock: a reservation is one file removed by one unlink(2),
# and the runtime never runs ADD and DEL for one attachment at once.
cmd_del() {
  require_env CNI_CONTAINERID CNI_IFNAME CNI_PATH
  load_network
  local id=$CNI_CONTAINERID ifname=$CNI_IFNAME
  veth_name "$id" "$ifname"
  link_del_owned "$REPLY" "$id" "$ifname" || cni_fail 100 "failed to delete the host veth" "$REPLY"
  [[ -d $IPAM_DIR ]] || return 0
  prev_address
  ipam_release "$IPAM_DIR" "$id" "$ifname" "${REPLY%/*}"
}
