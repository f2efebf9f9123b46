#!/bin/sh
# Checks the seams of DESIGN.md on the source tree:
#  - only src/crypto/ includes libsodium or OpenSSL headers (TLS transport files excepted,
#    by name, in TLS_EXCEPTIONS);
#  - only store code includes SQLite, only net/ and the relay include libwebsockets;
#  - a layer of libe2ee includes only itself and the layers before it:
#        util -> crypto -> wire -> proto -> store -> net -> client
#    and the relay only util, crypto, wire and itself.
# Usage: check_layers.sh SOURCE_DIR
set -u
top=${1:-.}
cd "$top" || exit 1
TLS_EXCEPTIONS=""
fail=0
bad() { echo "check_layers: $*"; fail=1; }

files=$(find src include tools examples bench fuzz -name '*.[ch]' 2>/dev/null | sort)
for f in $files; do
  case "$f" in src/crypto/*) continue ;; esac
  if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](sodium\.h|sodium/|openssl/)' "$f"; then
    case " $TLS_EXCEPTIONS " in *" $f "*) ;; *) bad "$f includes libsodium/OpenSSL (only src/crypto/ may)" ;; esac
  fi
done
for f in $files; do
  case "$f" in src/store/*|src/relay/store*) continue ;; esac
  grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<sqlite3\.h>' "$f" &&
    bad "$f includes sqlite3.h (only the store code may)"
done
for f in $files; do
  case "$f" in src/net/*|src/relay/*) continue ;; esac
  grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<libwebsockets\.h>' "$f" &&
    bad "$f includes libwebsockets.h (only net/ and the relay may)"
done

rank() {
  case "$1" in
    util) echo 0 ;; crypto) echo 1 ;; wire) echo 2 ;; proto) echo 3 ;;
    store) echo 4 ;; net) echo 5 ;; client) echo 6 ;; *) echo -1 ;;
  esac
}
for f in $(find src -name '*.[ch]' | sort); do
  layer=$(echo "$f" | cut -d/ -f2)
  incs=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\)\/.*/\1/p' "$f" | sort -u)
  for inc in $incs; do
    [ "$inc" = e2ee ] && continue
    [ "$inc" = "$layer" ] && continue
    if [ "$layer" = relay ]; then
      case "$inc" in util|crypto|wire) continue ;; esac
      bad "$f (relay) includes $inc/"
      continue
    fi
    lr=$(rank "$layer"); ir=$(rank "$inc")
    if [ "$ir" -lt 0 ] || [ "$ir" -gt "$lr" ]; then
      bad "$f ($layer) includes $inc/ (a later layer)"
    fi
  done
done
[ $fail = 0 ] && echo "check_layers: ok ($(echo "$files" | wc -w) files)"
exit $fail
