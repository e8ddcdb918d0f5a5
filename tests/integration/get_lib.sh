# Helpers for the `synack get` integration tests (sourced after lib.sh; not a test itself).
# Peers nobody here wrote: python3 -m http.server, nginx (plain and TLS with a throw-away test
# certificate), all in the peer namespace $NETNS_S.

GET_SIZE_MB=${GET_SIZE_MB:-50}

# get_make_blob: $NETNS_TMP/www/blob.bin of GET_SIZE_MB random MiB, its sha256 in GET_WANT.
get_make_blob() {
  mkdir -p "$NETNS_TMP/www"
  head -c $((GET_SIZE_MB * 1024 * 1024)) /dev/urandom >"$NETNS_TMP/www/blob.bin"
  GET_WANT=$(sha256sum <"$NETNS_TMP/www/blob.bin" | cut -d' ' -f1)
}

# get_make_cert: a self-signed certificate for 10.111.0.2 (and $NETNS_IP6_S when the lab has IPv6)
# -> $NETNS_TMP/tls/{cert,key}.pem.
get_make_cert() {
  mkdir -p "$NETNS_TMP/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$NETNS_TMP/tls/key.pem" -out "$NETNS_TMP/tls/cert.pem" -subj "/CN=synack test peer" \
    -addext "subjectAltName=IP:$NETNS_IP_S${NETNS_IP6_S:+,IP:$NETNS_IP6_S}" >/dev/null 2>&1 || fail "openssl could not make a test certificate"
}

# get_nginx PLAIN_PORT TLS_PORT: nginx in $NETNS_S serving $NETNS_TMP/www on both ports.
get_nginx() {
  netns_nginx "$1" "$2" "$NETNS_TMP/tls/cert.pem" "$NETNS_TMP/tls/key.pem" || fail "nginx did not start"
}

# get_fetch NAME URL TIMEOUT_S [ARGS...]: synack get URL -o FILE; checks exit 0 and the sha256;
# prints the duration and rate (also appended to $NETNS_TMP/rates.txt).
get_fetch() {
  local name=$1 url=$2 timeout=$3; shift 3
  local out="$NETNS_TMP/$name.bin"
  it_synack "$name" "$timeout" get "$url" -o "$out" "$@"
  [ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "$name: synack get exited $IT_RC"; }
  local got
  got=$(sha256sum <"$out" | cut -d' ' -f1)
  [ "$got" = "$GET_WANT" ] || { cat "$IT_ERR"; fail "$name: sha256 differs (got $got, want $GET_WANT)"; }
  local timing
  timing=$(grep 'handshake' "$IT_ERR" | tail -n 1)
  echo "   $name: $timing"
  echo "$name ${GET_SIZE_MB}MiB: $timing" >>"$NETNS_TMP/rates.txt"
  rm -f "$out"
  ok "$name: $GET_SIZE_MB MiB byte-exact"
}
