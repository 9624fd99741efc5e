# shellcheck shell=bash
# A strict JSON reader and a string escaper in bash builtins only: spawning
# jq costs ~30 ms on this host, more than a whole ADD.
#
# json_parse TEXT flattens a document into global associative arrays keyed by
# path: "." for the root, ".key" for members, "[i]" for elements, e.g.
# ".ipam.ranges[0][0].subnet":
#   JT[path]  type: s string, n number, b boolean, z null, o object, a array
#   JV[path]  scalar value; strings keep their JSON escapes, without quotes
#   JR[path]  raw JSON text of an object or array (valid JSON, reusable)
#   JN[path]  element count of an array
# It returns non-zero with JSON_ERR set on anything RFC 8259 rejects, and on
# nesting deeper than 32. Runs under LC_ALL=C, so offsets are bytes.
#
# Bash pays per statement, so the loop takes a whole member per turn (name,
# colon, value, then the comma or closing brackets) rather than a token.

declare -gA JT=() JV=() JR=() JN=()
JSON_ERR=
_JP_STR='^"(([^"\\[:cntrl:]]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*)"'
_JP_NUM='^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?'
_JP_WS=$' \t\r\n'

json_parse() {
  local s=$1 i=0 c p=. v w
  # Open containers: the path prefix of their children ("" for the root),
  # type (o/a), element count, start offset.
  local -a sp=() st=() sn=() ss=()
  JT=() JV=() JR=() JN=() JSON_ERR=
  while :; do
    # A value for path p.
    [[ ${s:i:1} == [$_JP_WS] ]] && _jp_ws
    c=${s:i:1}
    case $c in
      '"')
        _jp_string || return 1
        JT[$p]=s JV[$p]=$v ;;
      '{' | '[')
        ((${#sp[@]} < 32)) || { _jp_fail "nesting too deep"; return 1; }
        if [[ $p == . ]]; then sp+=(""); else sp+=("$p"); fi
        if [[ $c == '{' ]]; then st+=(o); else st+=(a); fi
        ss+=("$i") sn+=(0) JT[$p]=${st[-1]}
        ((i++))
        [[ ${s:i:1} == [$_JP_WS] ]] && _jp_ws
        if [[ ${s:i:1} != [\]\}] ]]; then
          if [[ $c == '{' ]]; then
            _jp_member || return 1
          else
            p="${sp[-1]}[0]" sn[-1]=1
          fi
          continue
        fi ;; # empty: its closer is handled below
      t | f | n)
        case ${s:i:5} in
          true*) JT[$p]=b JV[$p]=true i=$((i + 4)) ;;
          false) JT[$p]=b JV[$p]=false i=$((i + 5)) ;;
          null*) JT[$p]=z JV[$p]=null i=$((i + 4)) ;;
          *) _jp_fail "bad literal"; return 1 ;;
        esac ;;
      [-0-9])
        [[ ${s:i} =~ $_JP_NUM ]] || { _jp_fail "bad number"; return 1; }
        JT[$p]=n JV[$p]=${BASH_REMATCH[0]}
        ((i += ${#BASH_REMATCH[0]})) ;;
      '') _jp_fail "unexpected end of input"; return 1 ;;
      *) _jp_fail "unexpected character"; return 1 ;;
    esac
    # After a value: closers, then a comma and the next member or element.
    while :; do
      [[ ${s:i:1} == [$_JP_WS] ]] && _jp_ws
      if ((${#sp[@]} == 0)); then
        ((i == ${#s})) && return 0
        _jp_fail "unexpected data after the document"
        return 1
      fi
      c=${s:i:1}
      if [[ $c == , ]]; then
        ((i++))
        if [[ ${st[-1]} == o ]]; then
          _jp_member || return 1
        else
          p=${sp[-1]}[$((sn[-1]++))]
        fi
        break
      elif [[ $c == '}' && ${st[-1]} == o || $c == ']' && ${st[-1]} == a ]]; then
        p=${sp[-1]:-.}
        JR[$p]=${s:ss[-1]:i + 1 - ss[-1]}
        [[ ${st[-1]} == a ]] && JN[$p]=${sn[-1]}
        unset 'sp[-1]' 'st[-1]' 'sn[-1]' 'ss[-1]'
        ((i++))
      else
        [[ -n $c ]] || { _jp_fail "unexpected end of input"; return 1; }
        if [[ ${st[-1]} == o ]]; then _jp_fail "expected ',' or '}'"; else _jp_fail "expected ',' or ']'"; fi
        return 1
      fi
    done
  done
}

# The helpers below work on json_parse's locals (bash scoping is dynamic).

_jp_ws() {
  local w
  while [[ ${s:i:1} == [$_JP_WS] ]]; do
    w=${s:i:64}
    w=${w%%[!$_JP_WS]*}
    ((i += ${#w}))
  done
}

# _jp_member: `"name" :` at the cursor; p = the member's path.
_jp_member() {
  [[ ${s:i:1} == [$_JP_WS] ]] && _jp_ws
  [[ ${s:i:1} == '"' ]] || { _jp_fail "expected a member name"; return 1; }
  _jp_string || return 1
  p=${sp[-1]}.${v:-'""'} # (an empty name must not alias its parent)
  [[ ${s:i:1} == [$_JP_WS] ]] && _jp_ws
  [[ ${s:i:1} == : ]] || { _jp_fail "expected ':'"; return 1; }
  ((i++))
}

# _jp_string: the string at the cursor into v (escapes kept). The common
# case, no escapes or control characters, is cut out with one expansion;
# only the others pay for the regex (which rejects control characters).
_jp_string() {
  v=${s:i+1}
  v=${v%%[\"\\[:cntrl:]]*}
  [[ ${s:i+1+${#v}:1} == '"' ]] && { ((i += ${#v} + 2)); return 0; }
  [[ ${s:i} =~ $_JP_STR ]] || { _jp_fail "bad string"; return 1; }
  v=${BASH_REMATCH[1]}
  ((i += ${#BASH_REMATCH[0]}))
}

_jp_fail() {
  JSON_ERR="$1 at byte $i"
}

# json_str VAR TEXT: sets VAR to TEXT as a JSON string literal (with quotes).
# Control characters become escapes or spaces; bytes >= 0x80 become '?',
# since the text (often a tool's stderr) is not known to be UTF-8.
json_str() {
  local s=$2
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\x01'-$'\x1f'$'\x7f']/ }
  s=${s//[$'\x80'-$'\xff']/?}
  printf -v "$1" '"%s"' "$s"
}
