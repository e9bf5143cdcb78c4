#!/usr/bin/env bash
# Tessera's benchmark: one command. Builds in release, starts the server on loopback for each
# signing algorithm, drives it, and appends dated figures to bench/RESULTS.md.
#
#   bench/run.sh              # Tessera only
#   PEER=1 bench/run.sh       # also panva's oidc-provider (../shared/peers), side by side
#   SECONDS_PER_RUN=10        # length of each load run (default 10)
#   PARTS=tokens,verify,signals,dpop,resources,delegation,private,tms,webhooks,agents,scale,console   # which figures to take (default all)
#   SCALE_TENANTS=10000 SCALE_INTEGRATIONS=100000 SCALE_PRIVATE=1000000   # the scale part's size
#
# Needs wrk (Debian package `wrk`; installed here when run as root) and, for PEER=1, node/npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${SECONDS_PER_RUN:-10}
THREADS=$(nproc)
PEERS="$ROOT/../shared/peers"
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; else echo "install wrk first" >&2; exit 1; fi
fi
cargo build --release -q -p tessera -p tessera-bench
BIN=$ROOT/target/release

export TESSERA_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
export TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID=0f8fad5b-d9cb-469f-a165-70867728950e
export TESSERA_BOOTSTRAP_ADMIN_CLIENT_SECRET=bench-secret-0123456789abcdef0123456789abcdef
# The server's default logging (info: one access line per request, SPEC §13), so the figures
# include what a default deployment pays; BENCH_LOG=warn leaves the access lines out.
export TESSERA_LOG=${BENCH_LOG:-info}
ID=$TESSERA_BOOTSTRAP_ADMIN_CLIENT_ID
SECRET=$TESSERA_BOOTSTRAP_ADMIN_CLIENT_SECRET
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# CPU time the hypervisor took from this VM (the 8th field of /proc/stat's cpu line), and all
# CPU time: on a shared host, stolen time shows up as latency spikes in the load runs.
steal() { awk '/^cpu /{print $9}' /proc/stat; }
total() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
steal0=$(steal); total0=$(total)

PARTS=${PARTS:-tokens,verify,signals,dpop,resources,delegation,private,tms,webhooks,agents,scale,console}
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$2"; }
start_tessera() { # alg [name] -> sets PID, URL
  local dir=$OUT/data-${2:-$1}
  "$BIN/tessera" serve --data-dir "$dir" --listen 127.0.0.1:0 --signing-alg "$1" >"$OUT/serve-${2:-$1}.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's/^tessera listening on //p' "$OUT/serve-${2:-$1}.log")
    [ -n "$URL" ] && return 0
    sleep 0.1
  done
  echo "tessera did not start" >&2; cat "$OUT/serve-${2:-$1}.log" >&2; exit 1
}

# For the parts that set up through the API: a client-credentials token, and an admin POST.
token_of() { json_field access_token "$(curl -s -u "$1:$2" -d grant_type=client_credentials "$URL/oauth2/token")"; }
api() { curl -s -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d "$2" "$URL$1"; }

rows=()
introspection=""
idle_rss=""
for alg in RS256 ES256 EdDSA; do
  [[ $PARTS == *tokens* ]] || break
  start_tessera "$alg"
  sleep 2
  rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
  [ -z "$idle_rss" ] && idle_rss=$rss
  sign=$("$BIN/tessera-bench" sign --database "sqlite://$OUT/data-$alg/tessera.db" --threads "$THREADS" --seconds 5)
  sign_ops=$(field ops "$sign")
  peak=$(CLIENT_ID=$ID CLIENT_SECRET=$SECRET wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-client-credentials.lua "$URL/oauth2/token" | grep RESULT)
  rps=$(field rps "$peak")
  half=$(( ${rps%.*} / 2 ))
  load=$("$BIN/tessera-bench" load --url "$URL/oauth2/token" --rate "$half" --connections 16 --basic "$ID:$SECRET" --seconds "$SECS")
  ratio=$(awk -v a="$rps" -v b="$sign_ops" 'BEGIN { printf "%.0f%%", 100 * a / b }')
  rows+=("| Tessera | $alg | $rps | $(field p50_ms "$peak") | $(field p99_ms "$peak") | $sign_ops | $ratio | $half | $(field p50_ms "$load") | $(field p99_ms "$load") |")
  echo "${rows[-1]}"
  if [ "$alg" = "RS256" ]; then
    token=$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials "$URL/oauth2/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
    intro=$(AUTH="Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)" BODY="token=$token" wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-form.lua "$URL/oauth2/introspect" | grep RESULT)
    introspection="| introspection (RS256 token, seen before) | $(field rps "$intro") | $(field p50_ms "$intro") | $(field p99_ms "$intro") |"
    echo "$introspection"
  fi
  kill "$PID"; wait "$PID" 2>/dev/null || true
done

# tessera-verify in a resource server: an EdDSA token of the server's, checked on one thread
# with the key cached, seen before and in full, against the bare signature check (SPEC §12:
# ≥ 100,000/s, ≤ 1.3×).
verify_row=""
if [[ $PARTS == *verify* ]]; then
  start_tessera EdDSA verify
  out=$("$BIN/tessera-bench" verify --url "$URL" --basic "$ID:$SECRET" --seconds "$SECS" | grep RESULT)
  verify_row="\`tessera-verify\` (EdDSA, key cached, one thread): a token seen before $(field remembered "$out")/s; each check in full $(field verified "$out")/s against the bare signature check's $(field bare "$out")/s, $(field ratio "$out")× (goal: ≥ 100,000/s, ≤ 1.3×)."
  echo "$verify_row"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# Shared Signals: 100 resource servers (tessera-verify, a poll subscription and a receiver
# integration each) hold a token; it is revoked; how long until each refuses it (SPEC §12:
# p99 < 1 s with 100 streams).
signals_row=""
if [[ $PARTS == *signals* ]]; then
  start_tessera EdDSA signals
  out=$("$BIN/tessera-bench" signals --url "$URL" --basic "$ID:$SECRET" --streams 100 --rounds 20 | grep RESULT)
  signals_row="Shared Signals (EdDSA, SQLite): a revoked token refused by each of $(field streams "$out") subscribed verifiers (poll, one stream each) after p50 $(field p50_ms "$out") ms, p99 $(field p99_ms "$out") ms, at most $(field max_ms "$out") ms, over $(field rounds "$out") revocations (goal: p99 < 1 s)."
  echo "$signals_row"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# DPoP: client credentials with a fresh ES256 proof per request against none, from the same
# generator (proofs made before the run), closed-loop for the peak and open-loop at half of the
# unbound peak (SPEC §12: DPoP-bound ≤ 1.5× the cost of unbound).
dpop_row=""
if [[ $PARTS == *dpop* ]]; then
  start_tessera EdDSA dpop
  plain=$("$BIN/tessera-bench" load --url "$URL/oauth2/token" --rate 0 --connections 16 --basic "$ID:$SECRET" --seconds "$SECS" | grep RESULT)
  bound=$("$BIN/tessera-bench" load --url "$URL/oauth2/token" --rate 0 --connections 16 --basic "$ID:$SECRET" --seconds "$SECS" --dpop ES256 | grep RESULT)
  half=$(( $(printf '%.0f' "$(field achieved "$plain")") / 2 ))
  plain_half=$("$BIN/tessera-bench" load --url "$URL/oauth2/token" --rate "$half" --connections 16 --basic "$ID:$SECRET" --seconds "$SECS" | grep RESULT)
  bound_half=$("$BIN/tessera-bench" load --url "$URL/oauth2/token" --rate "$half" --connections 16 --basic "$ID:$SECRET" --seconds "$SECS" --dpop ES256 | grep RESULT)
  cost=$(awk -v a="$(field achieved "$plain")" -v b="$(field achieved "$bound")" 'BEGIN { printf "%.2f", a / b }')
  dpop_row="DPoP (EdDSA tokens, ES256 proofs, SQLite, 16 connections): peak $(field achieved "$plain")/s unbound, $(field achieved "$bound")/s bound (errors $(field errors "$bound")): cost $cost× (goal ≤ 1.5×); at $half/s p99 $(field p99_ms "$plain_half") ms unbound, $(field p99_ms "$bound_half") ms bound."
  echo "$dpop_row"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# The resource API: a tenant of 10,000 assets, half of them of a type the reader's policy hides.
resource_rows=()
if [[ $PARTS == *resources* ]]; then
  start_tessera EdDSA resources
  admin=$(token_of "$ID" "$SECRET")
  created=$(api /v1/integrations '{"display_name": "reader", "scopes": ["assets:read", "events:read"]}')
  rid=$(json_field client_id "$created"); rsecret=$(json_field client_secret "$created")
  api /v1/access_policies "{\"display_name\": \"shown only\", \"filters\": [{\"asset_types\": [\"Shown\"]}], \"permissions\": [{\"actors\": [{\"client_id\": \"$rid\"}], \"attributes\": [\"*\"], \"event_visibility\": \"all\"}]}" >/dev/null
  reader=$(token_of "$rid" "$rsecret")
  db="sqlite://$OUT/data-resources/tessera.db"
  kb() { awk "/$1/ {print \$2}" /proc/$PID/status; }
  first=""
  seeded=0
  for total in 1000 10000; do
    seed=$("$BIN/tessera-bench" seed --database "$db" --count $((total - seeded)))
    [ -z "$first" ] && first=$(sed -n 's/.*first_shown=\([0-9a-f-]*\).*/\1/p' <<<"$seed")
    seeded=$total
    walk=$("$BIN/tessera-bench" list --url "$URL/v2/assets" --bearer "$reader" --page-size 100)
    resource_rows+=("| $total | $(field items "$walk") | $(field pages "$walk") | $(field largest_page "$walk") | $(field seconds "$walk") | $(( $(kb VmRSS) / 1024 )) | $(( $(kb VmHWM) / 1024 )) |")
    echo "${resource_rows[-1]}"
  done
  get=$(wrk -t1 -c16 -d"${SECS}s" -H "Authorization: Bearer $reader" -s bench/wrk-report.lua "$URL/v2/assets/$first" | grep RESULT)
  asset_get="| \`GET /v2/assets/{uuid}\` (bearer, policy-filtered) | $(field rps "$get") | $(field p50_ms "$get") | $(field p99_ms "$get") |"
  echo "$asset_get $(grep -o 'non2xx=[0-9]*' <<<"$get")"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# The delegation grants: a user's token by the JWT bearer grant (one pre-signed EdDSA assertion
# per request, each with its own jti), and token exchange of that token (narrowed, Basic auth).
delegation_rows=()
if [[ $PARTS == *delegation* ]]; then
  start_tessera EdDSA delegation
  admin=$(token_of "$ID" "$SECRET")
  created=$(api /v1/integrations '{"display_name": "connector", "scopes": ["assets:read", "events:read", "impersonation"]}')
  cid=$(json_field client_id "$created"); csecret=$(json_field client_secret "$created")
  api /v1/users '{"email": "bench@example.com", "display_name": "Bench", "password": "correct horse battery staple"}' >/dev/null
  api /v1/consents "{\"client_id\": \"$cid\", \"user\": \"*\", \"scopes\": [\"assets:read\", \"events:read\"]}" >/dev/null
  count=$((SECS * 15000))
  "$BIN/tessera-bench" assertions --count $((count + 1)) --issuer "$cid" --subject bench@example.com \
    --audience "$URL/oauth2/token" --out "$OUT/signed" --jwk-out "$OUT/jwk.json"
  head -n "$count" "$OUT/signed" >"$OUT/assertions"
  api "/v1/integrations/$cid/keys" "{\"jwk\": $(cat "$OUT/jwk.json")}" >/dev/null
  bearer=$(ASSERTIONS=$OUT/assertions PREFIX="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=assets%3Aread&assertion=" \
    wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-assertions.lua "$URL/oauth2/token" | grep RESULT)
  delegation_rows+=("| JWT bearer grant (EdDSA assertion, \`jti\` recorded, user by email, consent) | $(field rps "$bearer") | $(field p50_ms "$bearer") | $(field p99_ms "$bearer") |")
  echo "${delegation_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$bearer")"
  user_token=$(json_field access_token "$(curl -s -d grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer \
    -d assertion="$(tail -n 1 "$OUT/signed")" "$URL/oauth2/token")")
  exchange=$(AUTH="Basic $(printf '%s:%s' "$cid" "$csecret" | base64 -w0)" \
    BODY="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=assets%3Aread&subject_token=$user_token" \
    wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-form.lua "$URL/oauth2/token" | grep RESULT)
  delegation_rows+=("| token exchange (the user's token narrowed, \`client_secret_basic\`) | $(field rps "$exchange") | $(field p50_ms "$exchange") | $(field p99_ms "$exchange") |")
  echo "${delegation_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$exchange")"
  kill "$PID"; wait "$PID" 2>/dev/null || true

  # Client authentication by assertion (SPEC §12, §14), both ES256: private_key_jwt (a new
  # assertion per request, its jti recorded) against a platform's identity token that a
  # federated credential accepts (one Kubernetes-shaped token reused, as platforms reuse them;
  # the platform's keys served on loopback by python3's http.server and cached by Tessera).
  TESSERA_ALLOW_PRIVATE_CALLBACKS=true start_tessera EdDSA federation
  admin=$(token_of "$ID" "$SECRET")
  created=$(api /v1/integrations '{"display_name": "workload", "scopes": ["assets:read"]}')
  wid=$(json_field client_id "$created")
  "$BIN/tessera-bench" assertions --alg ES256 --count $((count + 1)) --issuer "$wid" --subject "$wid" \
    --audience "$URL/oauth2/token" --out "$OUT/pkj" --jwk-out "$OUT/pkj.jwk"
  api "/v1/integrations/$wid/keys" "{\"jwk\": $(cat "$OUT/pkj.jwk")}" >/dev/null
  assertion_prefix="grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
  pkj=$(ASSERTIONS=$OUT/pkj PREFIX=$assertion_prefix wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-assertions.lua "$URL/oauth2/token" | grep RESULT)
  delegation_rows+=("| client credentials, \`private_key_jwt\` (ES256, a new assertion each time, \`jti\` recorded) | $(field rps "$pkj") | $(field p50_ms "$pkj") | $(field p99_ms "$pkj") |")
  echo "${delegation_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$pkj")"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cluster="http://127.0.0.1:$port"
  mkdir -p "$OUT/platform/.well-known"
  "$BIN/tessera-bench" assertions --alg ES256 --count 1 --issuer "$cluster" \
    --subject system:serviceaccount:bench:workload --audience tessera --out "$OUT/platform-token" --jwk-out "$OUT/platform.jwk"
  echo "{\"keys\": [$(cat "$OUT/platform.jwk")]}" >"$OUT/platform/keys"
  echo "{\"issuer\": \"$cluster\", \"jwks_uri\": \"$cluster/keys\"}" >"$OUT/platform/.well-known/openid-configuration"
  python3 -m http.server --bind 127.0.0.1 --directory "$OUT/platform" "$port" >/dev/null 2>&1 &
  platform_pid=$!
  sleep 1
  api /v1/trusted_issuers "{\"issuer\": \"$cluster\", \"audiences\": [\"tessera\"]}" >/dev/null
  api "/v1/integrations/$wid/federated_credentials" "{\"issuer\": \"$cluster\", \"subject\": \"system:serviceaccount:bench:workload\"}" >/dev/null
  fed_body="grant_type=client_credentials&client_id=$wid&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$(cat "$OUT/platform-token")"
  for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -d "$fed_body" "$URL/oauth2/token")" = 200 ] && break
    sleep 0.1
  done
  fed=$(BODY=$fed_body wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-form.lua "$URL/oauth2/token" | grep RESULT)
  delegation_rows+=("| client credentials, a platform token (ES256, Kubernetes-shaped, key set cached) and a federated credential | $(field rps "$fed") | $(field p50_ms "$fed") | $(field p99_ms "$fed") |")
  echo "${delegation_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$fed")"
  federation_row="Federated client authentication costs $(awk -v p="$(field rps "$pkj")" -v f="$(field rps "$fed")" 'BEGIN { printf "%.2f", p / f }')× \`private_key_jwt\` (time per request; target ≤ 1.5)."
  echo "$federation_row"
  kill "$platform_pid" "$PID"; wait "$PID" 2>/dev/null || true
fi

# Application private tokens: 1,000,000 entries over 10,000 relatedIds on SQLite, read at random;
# then one 16 MiB value put and got with curl, the server's peak memory during each above its
# resident size just before the put (VmHWM after resetting it through /proc/PID/clear_refs): the
# get's figure then also counts whatever the put left resident, so it is an upper bound.
private_rows=()
if [[ $PARTS == *private* ]]; then
  start_tessera EdDSA private
  admin=$(token_of "$ID" "$SECRET")
  seeded=$("$BIN/tessera-bench" seed-private --database "sqlite://$OUT/data-private/tessera.db" --client "$ID" --master-key "$TESSERA_MASTER_KEY" --entries 1000000 --related 10000)
  echo "$seeded"
  auth="Bearer $admin"
  one=$(AUTH=$auth RELATED=10000 KEYS=100 wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-private.lua "$URL" | grep RESULT)
  private_rows+=("| \`GET /v1/private_tokens/{relatedId}/{key}\` (1,000,000 entries, random) | $(field rps "$one") | $(field p50_ms "$one") | $(field p99_ms "$one") |")
  echo "${private_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$one")"
  page=$(AUTH=$auth RELATED=10000 KEYS=100 PAGE=1 wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-private.lua "$URL" | grep RESULT)
  private_rows+=("| \`GET /v1/private_tokens?relatedId=…&page_size=100\` (a page of 100, random relatedId) | $(field rps "$page") | $(field p50_ms "$page") | $(field p99_ms "$page") |")
  echo "${private_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$page")"
  values=$(AUTH=$auth RELATED=10000 KEYS=100 PAGE=values wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-private.lua "$URL" | grep RESULT)
  private_rows+=("| \`GET /v1/private_tokens?relatedId=…&page_size=100&include_values=true\` (the same page with its sealed values) | $(field rps "$values") | $(field p50_ms "$values") | $(field p99_ms "$values") |")
  echo "${private_rows[-1]} $(grep -o 'non2xx=[0-9]*' <<<"$values")"
  kb() { awk "/$1/ {print \$2}" /proc/$PID/status; }
  head -c 16777216 /dev/zero | tr '\0' x >"$OUT/big"
  before=$(kb VmRSS)
  big() { # method, curl args… -> "status seconds peak_mb"
    echo 5 >/proc/$PID/clear_refs
    local out; out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X "$1" -H "Authorization: $auth" "${@:2}" "$URL/v1/private_tokens/big/value")
    echo "$out $(( ($(kb VmHWM) - before) / 1024 ))"
  }
  put=$(big PUT -H 'Content-Type: text/plain' --data-binary @"$OUT/big")
  get=$(big GET)
  big_row="16 MiB value: PUT (raw body) HTTP ${put%% *}, $(cut -d' ' -f2 <<<"$put") s, server peak +$(cut -d' ' -f3 <<<"$put") MiB; GET HTTP ${get%% *}, $(cut -d' ' -f2 <<<"$get") s, server peak +$(cut -d' ' -f3 <<<"$get") MiB (both above the resident size before the PUT)."
  echo "$big_row"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# The Token Management Service: a batch of 5 tenants' tokens (RS256) against 5 single
# client-credentials issuances by the same integration, both through wrk-form.lua.
tms_rows=()
if [[ $PARTS == *tms* ]]; then
  start_tessera RS256 tms
  admin=$(token_of "$ID" "$SECRET")
  created=$(api /v1/integrations '{"display_name": "KPI", "multi_tenant": true, "app_name": "kpi", "app_version": "1.0", "tms_enabled": true}')
  cid=$(json_field client_id "$created")
  csecret=$(json_field client_secret "$(api "/v1/integrations/$cid/promote" '{}')")
  tenants=$("$BIN/tessera-bench" seed-tms --database "sqlite://$OUT/data-tms/tessera.db" --app kpi --tenants 5)
  auth="Basic $(printf '%s:%s' "$cid" "$csecret" | base64 -w0)"
  for _ in $(seq 50); do
    issued=$(curl -s -H "Authorization: $auth" -H 'Content-Type: application/json' -d "{\"tenants\": $tenants}" "$URL/tms/v1/tokens" | { grep -o '"access_token"' || true; } | wc -l)
    [ "$issued" = 5 ] && break
    sleep 0.1
  done
  [ "$issued" = 5 ] || { echo "TMS issued $issued of 5 tokens" >&2; exit 1; }
  single=$(AUTH=$auth BODY="grant_type=client_credentials" wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-form.lua "$URL/oauth2/token" | grep RESULT)
  batch=$(AUTH=$auth BODY="{\"tenants\": $tenants}" CONTENT_TYPE=application/json wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-form.lua "$URL/tms/v1/tokens" | grep RESULT)
  tms_rows+=("| client credentials, one RS256 token per request | $(field rps "$single") | $(field p50_ms "$single") | $(field p99_ms "$single") |")
  tms_rows+=("| \`POST /tms/v1/tokens\`, a batch of 5 tenants' RS256 tokens per request | $(field rps "$batch") | $(field p50_ms "$batch") | $(field p99_ms "$batch") |")
  printf '%s\n' "${tms_rows[@]}"
  tms_ratio=$(awk -v s="$(field rps "$single")" -v b="$(field rps "$batch")" 'BEGIN { printf "%.2f", s / (5 * b) }')
  tms_row="TMS: a batch of 5 costs $tms_ratio× five single issuances (target ≤ 1.20); $(awk -v b="$(field rps "$batch")" 'BEGIN { printf "%d", 5 * b }') tokens/s in batches."
  echo "$tms_row $(grep -o 'non2xx=[0-9]*' <<<"$batch")"
  kill "$PID"; wait "$PID" 2>/dev/null || true
fi

# Webhooks: deliveries/s from the outbox to a loopback receiver, for one connection (each
# delivery waits for the one before: in order) and for 100 connections delivered side by side.
webhook_rows=()
if [[ $PARTS == *webhooks* ]]; then
  # The receiver is on loopback, which outgoing calls refuse by default (SPEC §11).
  export TESSERA_ALLOW_PRIVATE_CALLBACKS=true
  for shape in "1 3000" "100 50"; do
    set -- $shape
    start_tessera EdDSA "webhooks-$1"
    hooks=$("$BIN/tessera-bench" webhooks --database "sqlite://$OUT/data-webhooks-$1/tessera.db" \
      --master-key "$TESSERA_MASTER_KEY" --connections "$1" --per-connection "$2" | grep RESULT)
    webhook_rows+=("| webhooks delivered to a loopback receiver, $1 connection(s) × $2 | $(field rate "$hooks") | | |")
    echo "${webhook_rows[-1]}"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
  unset TESSERA_ALLOW_PRIVATE_CALLBACKS
fi

# Agents (SPEC §12, §15): a signed-in person's /oauth2/authorize with a remembered consent (a
# 303 with a code), the code's exchange and a refresh rotation, each at its peak (closed loop,
# 16 connections) and open-loop at half of it; every code and refresh token used once
# (`tessera-bench agents`). SQLite, EdDSA, the person's session cookie from a real sign-in.
agent_rows=()
if [[ $PARTS == *agents* ]]; then
  export TESSERA_BOOTSTRAP_ADMIN_EMAIL=ops@example.com TESSERA_BOOTSTRAP_ADMIN_PASSWORD='bench console password'
  start_tessera EdDSA agents
  admin=$(token_of "$ID" "$SECRET")
  created=$(api /v1/integrations '{"display_name": "agent", "scopes": ["assets:read"], "redirect_uris": ["http://127.0.0.1/cb"]}')
  aid=$(json_field client_id "$created"); asecret=$(json_field client_secret "$created")
  jar=$OUT/agents.cookies
  csrf=$(curl -s -c "$jar" "$URL/console/sign-in" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "email=$TESSERA_BOOTSTRAP_ADMIN_EMAIL" \
    --data-urlencode "password=$TESSERA_BOOTSTRAP_ADMIN_PASSWORD" --data-urlencode "csrf=$csrf" \
    --data-urlencode "next=/console" "$URL/console/sign-in"
  session=$(awk '$6 == "tessera_session" {print $7}' "$jar")
  [ -n "$session" ] || { echo "agents: the sign-in failed" >&2; exit 1; }
  # RFC 7636 Appendix B's verifier and challenge.
  verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
  authorize="/oauth2/authorize?response_type=code&client_id=$aid&redirect_uri=http%3A%2F%2F127.0.0.1%3A7%2Fcb&scope=assets%3Aread&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
  # The first time the person is asked: Allow, as the consent page posts it.
  page=$(curl -s -H "Cookie: tessera_session=$session" "$URL$authorize")
  hidden() { sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" <<<"$page" | head -1 | sed 's/&#38;/\&/g; s/&amp;/\&/g'; }
  allowed=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: tessera_session=$session" \
    --data-urlencode "csrf=$(hidden csrf)" --data-urlencode "request=$(hidden request)" -d decision=allow "$URL/oauth2/authorize")
  [ "$allowed" = 303 ] || { echo "agents: the consent was not given ($allowed)" >&2; exit 1; }
  out=$("$BIN/tessera-bench" agents --url "$URL" --authorize "$authorize" --cookie "tessera_session=$session" \
    --basic "$aid:$asecret" --redirect-uri http://127.0.0.1:7/cb --verifier "$verifier" --connections 16 --seconds "$SECS")
  for step in "authorize:\`GET /oauth2/authorize\`, signed in, consent remembered (303 with a code)" \
      "exchange:\`grant_type=authorization_code\` (PKCE S256, \`client_secret_basic\`, a refresh token family started)" \
      "refresh:\`grant_type=refresh_token\` (rotated: the family's next token)"; do
    r=$(grep "^RESULT ${step%%:*} " <<<"$out")
    agent_rows+=("| ${step#*:} | $(field rps "$r") | $(field p50_ms "$r") | $(field p99_ms "$r") | $(field half_rate "$r") | $(field half_sent "$r") | $(field half_median_ms "$r") | $(field half_tail_ms "$r") | $(field errors "$r") |")
    echo "${agent_rows[-1]}"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
  unset TESSERA_BOOTSTRAP_ADMIN_EMAIL TESSERA_BOOTSTRAP_ADMIN_PASSWORD
fi

# Console (SPEC §9, issue 17): each page of a signed-in operator admin, on a database the size
# of the scale part's (10,000 tenants, 100,000 integrations, 1,000,000 private tokens of one
# integration): requests/s and p99 with wrk -t1 -c4, the session cookie of a real sign-in.
console_rows=()
if [[ $PARTS == *console* ]]; then
  CT=${SCALE_TENANTS:-10000}; CI=${SCALE_INTEGRATIONS:-100000}; CP=${SCALE_PRIVATE:-1000000}
  export TESSERA_BOOTSTRAP_ADMIN_EMAIL=ops@example.com TESSERA_BOOTSTRAP_ADMIN_PASSWORD='bench console password'
  cdb="sqlite://$OUT/console.db"
  "$BIN/tessera" serve --data-dir "$OUT/data-console" --database "$cdb" --listen 127.0.0.1:0 >"$OUT/serve-console-first.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do grep -q '^tessera listening on ' "$OUT/serve-console-first.log" && break; sleep 0.05; done
  kill "$PID"; wait "$PID" 2>/dev/null || true
  echo "console: $("$BIN/tessera-bench" seed-scale --database "$cdb" --tenants "$CT" --integrations "$CI" --secret "$SECRET" --into-operator)"
  echo "console: $("$BIN/tessera-bench" seed-private --database "$cdb" --client "$ID" --master-key "$TESSERA_MASTER_KEY" --entries "$CP" --related 10000)"
  "$BIN/tessera" serve --data-dir "$OUT/data-console" --database "$cdb" --listen 127.0.0.1:0 >"$OUT/serve-console.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    URL=$(sed -n 's/^tessera listening on //p' "$OUT/serve-console.log")
    [ -n "$URL" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] && break
    sleep 0.05
  done
  # Sign in as a browser would: the form's CSRF token and cookie, then the session cookie.
  jar=$OUT/console.cookies
  form=$(curl -s -c "$jar" "$URL/console/sign-in")
  csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' <<<"$form" | head -1)
  curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "email=$TESSERA_BOOTSTRAP_ADMIN_EMAIL" \
    --data-urlencode "password=$TESSERA_BOOTSTRAP_ADMIN_PASSWORD" --data-urlencode "csrf=$csrf" \
    --data-urlencode "next=/console" "$URL/console/sign-in"
  session=$(awk '$6 == "tessera_session" {print $7}' "$jar")
  [ -n "$session" ] || { echo "console: the sign-in failed" >&2; exit 1; }
  for page in /console /console/integrations "/console/integrations/$ID" \
      "/console/integrations/$ID/private-tokens" "/console/integrations/$ID/private-tokens?relatedId_prefix=rel-0500" \
      "/console/integrations/$ID/private-tokens/entry?relatedId=rel-05000&key=key-00" \
      /console/access-policies /console/users /console/audit /console/account /console/tenants /console/keys \
      /console/connections /console/applications; do
    got=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: tessera_session=$session" "$URL$page")
    out=$(wrk -t1 -c4 -d"${SECS}s" -s bench/wrk-report.lua -H "Cookie: tessera_session=$session" "$URL$page" | grep RESULT)
    console_rows+=("| \`$page\` | $got | $(field rps "$out") | $(field p50_ms "$out") | $(field p99_ms "$out") | $(field non2xx "$out") |")
    echo "${console_rows[-1]}"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true
  unset TESSERA_BOOTSTRAP_ADMIN_EMAIL TESSERA_BOOTSTRAP_ADMIN_PASSWORD
fi

# Scale (SPEC §12): a small deployment (the first start alone) against a large one (10,000
# tenants, 100,000 integrations, 1,000,000 private tokens), on SQLite and on PostgreSQL (a
# throwaway cluster, fsync off, like the tests'): time from start to ready, resident memory,
# client-credentials tokens/s with RS256 and EdDSA; then two instances on the large database
# and how long a secret regenerated on one takes to be honoured by the other.
scale_rows=(); scale_prop=()
if [[ $PARTS == *scale* ]]; then
  ST=${SCALE_TENANTS:-10000}; SI=${SCALE_INTEGRATIONS:-100000}; SP=${SCALE_PRIVATE:-1000000}
  pg_urls=()
  if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    "$BIN/tessera-bench" postgres --databases 2 >"$OUT/pg.urls" 2>"$OUT/pg.log" &
    for _ in $(seq 300); do [ "$(wc -l <"$OUT/pg.urls")" -ge 2 ] && break; sleep 0.1; done
    mapfile -t pg_urls <"$OUT/pg.urls"
  fi
  serve_on() { # database, alg, name -> PID, URL, ready seconds in READY
    local log=$OUT/serve-$3.log t0
    t0=$(date +%s.%N)
    "$BIN/tessera" serve --data-dir "$OUT/data-$3" --database "$1" --listen 127.0.0.1:0 --signing-alg "$2" >"$log" 2>&1 &
    PID=$!
    for _ in $(seq 600); do
      URL=$(sed -n 's/^tessera listening on //p' "$log")
      [ -n "$URL" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] && break
      sleep 0.02
    done
    [ -n "$URL" ] || { echo "tessera did not start" >&2; cat "$log" >&2; exit 1; }
    READY=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  }
  for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then
      small_db="sqlite://$OUT/scale-small.db"; big_db="sqlite://$OUT/scale-big.db"
    else
      [ ${#pg_urls[@]} -ge 2 ] || { echo "scale: no PostgreSQL server binaries, its half skipped" >&2; continue; }
      small_db=${pg_urls[0]}; big_db=${pg_urls[1]}
    fi
    declare -A small_rate=()
    for size in small big; do
      db=$small_db; [ "$size" = big ] && db=$big_db
      serve_on "$db" RS256 "scale-$backend-$size-first"; kill "$PID"; wait "$PID" 2>/dev/null || true
      if [ "$size" = big ]; then
        echo "scale/$backend: $("$BIN/tessera-bench" seed-scale --database "$db" --tenants "$ST" --integrations "$SI" --secret "$SECRET")"
        echo "scale/$backend: $("$BIN/tessera-bench" seed-private --database "$db" --client "$ID" --master-key "$TESSERA_MASTER_KEY" --entries "$SP" --related 10000)"
      fi
      for alg in RS256 EdDSA; do
        serve_on "$db" "$alg" "scale-$backend-$size-$alg"
        ready=$READY
        sleep 2
        rss=$(( $(awk '/VmRSS/ {print $2}' /proc/$PID/status) / 1024 ))
        peak=$(CLIENT_ID=$ID CLIENT_SECRET=$SECRET wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-client-credentials.lua "$URL/oauth2/token" | grep RESULT)
        rps=$(field rps "$peak")
        kill "$PID"; wait "$PID" 2>/dev/null || true
        if [ "$size" = small ]; then
          small_rate[$alg]=$rps; vs="—"
        else
          vs=$(awk -v a="$rps" -v b="${small_rate[$alg]}" 'BEGIN { printf "%.0f%%", 100 * a / b }')
        fi
        scale_rows+=("| $backend | $size | $alg | $ready | $rss | $rps | $(field p99_ms "$peak") | $vs |")
        echo "${scale_rows[-1]}"
      done
    done
    # Two instances on the large database: a secret regenerated on A, honoured by B.
    serve_on "$big_db" EdDSA "scale-$backend-a"; pid_a=$PID; url_a=$URL
    serve_on "$big_db" EdDSA "scale-$backend-b"; pid_b=$PID; url_b=$URL
    prop=$("$BIN/tessera-bench" propagation --a "$url_a" --b "$url_b" --id "$ID" --secret "$SECRET" --rounds 5 | grep RESULT)
    scale_prop+=("$backend: a new secret on one instance was honoured by the other after $(field median_ms "$prop") ms (median of 5), at most $(field max_ms "$prop") ms.")
    echo "${scale_prop[-1]}"
    kill "$pid_a" "$pid_b"; wait "$pid_a" "$pid_b" 2>/dev/null || true
  done
fi

peer_rows=()
if [ "${PEER:-0}" = 1 ] && command -v node >/dev/null; then
  for alg in RS256 ES256 EdDSA; do
    PORT=3999 ALG=$alg "$PEERS/oidc-provider/run.sh" >"$OUT/peer-$alg.log" 2>&1 &
    PPID_=$!
    for _ in $(seq 600); do curl -s -o /dev/null http://127.0.0.1:3999/jwks && break; sleep 0.2; done
    peak=$(wrk -t1 -c16 -d"${SECS}s" -s bench/wrk-client-credentials.lua http://127.0.0.1:3999/token | grep RESULT)
    peer_rows+=("| oidc-provider 9.13.3 | $alg | $(field rps "$peak") | $(field p50_ms "$peak") | $(field p99_ms "$peak") | | | | | |")
    echo "${peer_rows[-1]}"
    kill "$PPID_" 2>/dev/null; pkill -f "node server.mjs" 2>/dev/null || true; wait "$PPID_" 2>/dev/null || true
  done
fi

{
  echo
  echo "## $(date -u +%Y-%m-%d) — $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo
  if [ ${#rows[@]} -gt 0 ]; then
    echo "Client credentials, \`client_secret_basic\`, scope \`assets:read\`, SQLite. Peak: wrk -t1 -c16 -d${SECS}s with \`bench/wrk-client-credentials.lua\` (the peers' script without its per-response Lua callback). Raw signing: the server's own key, $THREADS threads, minting the same claims. Half-peak latency: open-loop at half the peak rate, 16 connections (\`tessera-bench load\`)."
    echo
    echo "| server | alg | tokens/s | p50 ms | p99 ms | raw signs/s | issuance / raw | half-peak rate | p50 ms | p99 ms |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}" "${peer_rows[@]}"
    echo
    echo "Idle RSS after start: $(( ${idle_rss:-0} / 1024 )) MB."
    echo
  fi
  if [ -n "$introspection${asset_get:-}" ] || [ $(( ${#delegation_rows[@]} + ${#private_rows[@]} + ${#tms_rows[@]} + ${#webhook_rows[@]} )) -gt 0 ]; then
    echo "| other (wrk -t1 -c16 -d${SECS}s) | per second | p50 ms | p99 ms |"
    echo "|---|---|---|---|"
  fi
  [ -n "$introspection" ] && echo "$introspection"
  [ -n "${asset_get:-}" ] && echo "$asset_get"
  [ ${#delegation_rows[@]} -gt 0 ] && printf '%s\n' "${delegation_rows[@]}"
  [ ${#private_rows[@]} -gt 0 ] && printf '%s\n' "${private_rows[@]}"
  [ ${#tms_rows[@]} -gt 0 ] && printf '%s\n' "${tms_rows[@]}"
  [ ${#webhook_rows[@]} -gt 0 ] && printf '%s\n' "${webhook_rows[@]}"
  [ -n "${big_row:-}" ] && printf '\n%s\n' "$big_row"
  [ -n "${tms_row:-}" ] && printf '\n%s\n' "$tms_row"
  [ -n "${federation_row:-}" ] && printf '\n%s\n' "$federation_row"
  [ -n "${verify_row:-}" ] && printf '\n%s\n' "$verify_row"
  [ -n "${signals_row:-}" ] && printf '\n%s\n' "$signals_row"
  [ -n "${dpop_row:-}" ] && printf '\n%s\n' "$dpop_row"
  echo
  if [ ${#resource_rows[@]} -gt 0 ]; then
    echo "Listing a tenant page by page (\`GET /v2/assets?page_size=100\`, SQLite) under a policy that shows half of its assets; server memory after each walk:"
    echo
    echo "| assets in tenant | listed | pages | largest page | seconds | RSS MB | peak RSS MB |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${resource_rows[@]}"
    echo
  fi
  if [ ${#scale_rows[@]} -gt 0 ]; then
    echo "Scale: the first start alone (small) against ${SCALE_TENANTS:-10000} tenants, ${SCALE_INTEGRATIONS:-100000} integrations and ${SCALE_PRIVATE:-1000000} private tokens (big). Ready: seconds from starting the process to \`/readyz\` answering 200. Tokens: client credentials by the operator's integration, wrk -t1 -c16 -d${SECS}s. PostgreSQL: a throwaway local cluster with fsync off."
    echo
    echo "| backend | deployment | alg | ready s | RSS MB | tokens/s | p99 ms | vs small |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${scale_rows[@]}"
    echo
    printf '%s\n' "${scale_prop[@]}"
    echo
  fi
  if [ ${#agent_rows[@]} -gt 0 ]; then
    echo "Agents (SPEC §15; SQLite, EdDSA): peak closed-loop (p50 and p99 from send to answer) with 16 connections (\`tessera-bench agents\`), then open-loop at half the peak (p50 and p99 from when each request was due); each code and refresh token used once, the authorize runs giving the exchange runs their codes and those the refresh runs their tokens (a half-peak run ends early when they run out: \"sent\"). Goal (§12): exchange and refresh ≥ 5,000/s with p99 < 10 ms at half peak, authorize ≥ 5,000/s."
    echo
    echo "| request | peak /s | p50 ms | p99 ms | half-peak rate | sent | p50 ms | p99 ms | errors |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${agent_rows[@]}"
    echo
  fi
  if [ ${#console_rows[@]} -gt 0 ]; then
    echo "Console pages of a signed-in operator admin (SQLite; ${SCALE_TENANTS:-10000} tenants, ${SCALE_INTEGRATIONS:-100000} integrations in the operator's own tenant, ${SCALE_PRIVATE:-1000000} private tokens of the operator's integration in 10,000 relatedIds), wrk -t1 -c4 -d${SECS}s with the session cookie. Goal (issue 17): p99 under 20 ms."
    echo
    echo "| page | status | requests/s | p50 ms | p99 ms | non-2xx |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${console_rows[@]}"
    echo
  fi
  echo "CPU time taken by the hypervisor (steal) during the run: $(awk -v s=$(( $(steal) - steal0 )) -v t=$(( $(total) - total0 )) 'BEGIN { printf "%.1f%%", 100 * s / t }')."
} >>bench/RESULTS.md
echo "appended to bench/RESULTS.md"
