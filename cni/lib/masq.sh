# shellcheck shell=bash
# The masquerade rules: pods' traffic leaving the cluster CIDR (and not
# multicast) is SNATed to the node. One chain of ours, hooked once from nat
# POSTROUTING; each rule checked (-C) before it is added, nothing flushed.
# Not SKIFF-POSTROUTING: that is the service proxy's chain in iptables mode
# (kube-proxy's KUBE-POSTROUTING), which it flushes on every full sync.
readonly MASQ_CHAIN=SKIFF-CNI-MASQ
masq_rules() {
  local c="skiff-bridge $NET_NAME"
  MASQ_JUMP=(POSTROUTING -m comment --comment "skiff-bridge pod masquerade" -j "$MASQ_CHAIN")
  MASQ_RET1=("$MASQ_CHAIN" -s "$SUBNET" -d "$CLUSTER_CIDR" -m comment --comment "$c: within cluster" -j RETURN)
  MASQ_RET2=("$MASQ_CHAIN" -s "$SUBNET" -d 224.0.0.0/4 -m comment --comment "$c: multicast" -j RETURN)
  MASQ_MASQ=("$MASQ_CHAIN" -s "$SUBNET" -m comment --comment "$c: leaving cluster" -j MASQUERADE)
}

# ensure_masq: idempotent. A stamp under /run (tmpfs: gone after a reboot,
# like the rules) records that this network's rules were ensured, so ADDs
# after the first spawn no iptables at all; CHECK verifies the real rules and
# clears the stamp when any is missing, so the next ADD restores them. The
# agent deletes the stamps at start, and with the rules (skiff down).
ensure_masq() {
  [[ $IP_MASQ == true ]] || return 0
  local key="$IPTABLES $SUBNET $CLUSTER_CIDR" have= stamp=$RUN_DIR/masq-$NET_NAME out
  read -r have 2>/dev/null <"$stamp"
  [[ $have == "$key" ]] && return 0
  masq_rules
  # The jump and chain are shared by every network, whose locks are their
  # own: a host-wide lock keeps two first ADDs from both adding the jump.
  local fd
  [[ -d $RUN_DIR ]] || mkdir -p -m 0755 "$RUN_DIR"
  exec {fd}>>"$RUN_DIR/lock" || cni_fail 105 "cannot open $RUN_DIR/lock"
  flock -w 30 "$fd" || cni_fail 11 "timed out waiting for $RUN_DIR/lock"
  "$IPTABLES" -w 5 -t nat -N "$MASQ_CHAIN" >/dev/null 2>&1
  out=$("$IPTABLES" -w 5 -t nat -C "${MASQ_JUMP[@]}" 2>&1) ||
    out=$("$IPTABLES" -w 5 -t nat -A "${MASQ_JUMP[@]}" 2>&1) || cni_fail 105 "failed to add the masquerade jump" "$out"
  # RETURNs are inserted at the top and the MASQUERADE appended, so the
  # order stays right even if someone deleted only some of them.
  out=$("$IPTABLES" -w 5 -t nat -C "${MASQ_RET1[@]}" 2>&1) ||
    out=$("$IPTABLES" -w 5 -t nat -I "${MASQ_RET1[0]}" 1 "${MASQ_RET1[@]:1}" 2>&1) || cni_fail 105 "failed to add a masquerade rule" "$out"
  out=$("$IPTABLES" -w 5 -t nat -C "${MASQ_RET2[@]}" 2>&1) ||
    out=$("$IPTABLES" -w 5 -t nat -I "${MASQ_RET2[0]}" 1 "${MASQ_RET2[@]:1}" 2>&1) || cni_fail 105 "failed to add a masquerade rule" "$out"
  out=$("$IPTABLES" -w 5 -t nat -C "${MASQ_MASQ[@]}" 2>&1) ||
    out=$("$IPTABLES" -w 5 -t nat -A "${MASQ_MASQ[@]}" 2>&1) || cni_fail 105 "failed to add a masquerade rule" "$out"
  printf '%s\n' "$key" >|"$stamp"
  exec {fd}>&-
}

# masq_verify: fails (REPLY = what is missing) unless every rule is in place.
masq_verify() {
  REPLY=
  [[ $IP_MASQ == true ]] || return 0
  masq_rules
  local r
  for r in MASQ_JUMP MASQ_RET1 MASQ_RET2 MASQ_MASQ; do
    local -n rule=$r
    if ! "$IPTABLES" -w 5 -t nat -C "${rule[@]}" >/dev/null 2>&1; then
      REPLY="iptables nat rule missing: ${rule[*]}"
      unlink "$RUN_DIR/masq-$NET_NAME" 2>/dev/null
      return 1
    fi
  done
}
