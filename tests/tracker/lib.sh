# lib.sh - helpers shared by the tracker's HTTP tests (sourced after
# common.sh and tracker.sh).
#
#   call METHOD PATH TOKEN [BODY]   one request; sets CODE, BODY, HDRS
#   expect MSG CODE [JQ_FILTER]     ok if CODE matches and jq -e FILTER holds
#   read_body MAIL_ID SENDER RCPT [EXTRA_JQ_OBJECT]   JSON of a read notification
#   seed ARGS...                    record mails with $SEED_BIN in $T/store

call() {
    local method=$1 path=$2 token=$3 out
    local args=(-X "$method" -D "$T/hdrs")
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    out=$(tracker_curl "${args[@]}" "$TRACKER_URL$path")
    CODE=${out##*$'\n'}
    BODY=${out%$'\n'*}
    [ "$BODY" = "$CODE" ] && BODY=
    HDRS=$(tr -d '\r' < "$T/hdrs")
}

expect() {
    [ -n "${T_DEBUG:-}" ] && echo "$BODY" >&2
    local msg=$1 code=$2 filter=${3:-}
    if [ "$CODE" != "$code" ]; then
        t_fail "$msg: status $CODE, want $code; body: $BODY"
        return 1
    fi
    if [ -n "$filter" ] && ! jq -e "$filter" >/dev/null 2>&1 <<<"$BODY"; then
        t_fail "$msg: body does not satisfy $filter: $BODY"
        return 1
    fi
    t_ok "$msg"
}

read_body() {
    jq -cn --arg m "$1" --arg s "$2" --arg r "$3" \
        "{mail_id: \$m, sender: \$s, recipient: \$r} + ${4:-{\}}"
}

seed() {
    "$SEED_BIN" -d "$T/store" -k "$T/system.key" "$@"
}
