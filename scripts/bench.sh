#!/bin/sh
# Runs every benchmark and writes bench/REPORT.md (tables, machine, date, commands) and
# bench/report.kv (key=value). Usage: scripts/bench.sh [BUILD]   (make bench)
#
#  - bench_crypto, bench_pairwise, bench_group: the programs in BUILD/bin, as they are.
#  - the relay: e2ee-loadgen against relays it spawns on free loopback ports, each with a
#    fresh store in a temporary folder; the relay on CPU 0 and the load generator on CPU 1
#    when there are two or more. Saturation with one group of 100 and of 1,000 members
#    (store_sync full, the default, and normal side by side), message sizes, latency at
#    half the saturation rate, memory per idle connection at 10,000 connections, and a
#    profile of the relay under saturation (perf, when installed).
#  - end to end through the client library (e2ee-loadgen --mode e2e): the ceiling with 100
#    clients and with E2EE_BENCH_E2E_CLIENTS clients (default 1000), RUNS runs of the latency
#    at half the latter with as many clients, and the rekey rounds of one group of
#    E2EE_BENCH_REKEY_G members (default 100), then of one group of E2EE_BENCH_REKEY_BIG_G
#    members (default 1000; 0 skips it, about 3 minutes, most of it creating the clients)
#    where E2EE_BENCH_REKEY_SENDERS (default 10) members send (1000: the full rounds, every
#    member sends, about 30 minutes more).
#
# Each saturation figure is the median of RUNS runs (env E2EE_BENCH_RUNS, default 3) of
# SECONDS seconds (E2EE_BENCH_RELAY_SECONDS, default 5). The machine may be shared: the
# report records the load average and the CPU pressure around every relay run. Benchmarks
# are never ctest tests. Takes about 13 minutes.
set -eu

build=${1:-build}
bin="$build/bin"
top=$(cd "$(dirname "$0")/.." && pwd)
out_md="$top/bench/REPORT.md"
out_kv="$top/bench/report.kv"
runs=${E2EE_BENCH_RUNS:-3}
secs=${E2EE_BENCH_RELAY_SECONDS:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/e2ee-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

for p in bench_crypto bench_pairwise bench_group e2ee-loadgen e2ee-relay; do
  [ -x "$bin/$p" ] || { echo "bench.sh: $bin/$p missing (build first: make build)" >&2; exit 1; }
done

ncpu=$(nproc 2>/dev/null || echo 1)
pin=""
[ "$ncpu" -ge 2 ] && pin="--relay-cpu 0 --cpu 1"

# ---------------------------------------------------------------- helpers

kv() { # FILE KEY: the value of KEY in the last line of FILE (a loadgen report)
  tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
median() { # numbers on stdin
  sort -n | awk '{a[NR]=$1} END {if (!NR) print "-"; else if (NR%2) print a[(NR+1)/2];
                                  else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'
}
load() { cut -d' ' -f1 /proc/loadavg; }
pressure() { # CPU pressure (share of the last 10 s some task waited for a CPU), or -
  sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null || echo -
}
emit() { echo "$1=$2" >> "$tmp/report.kv"; }
bound() { # RELAY_CPU LOADGEN_CPU PRESSURE: which resource limited a saturation run
  awk -v r="$1" -v l="$2" -v p="$3" 'BEGIN {
    if (l >= 90) print "load generator CPU"; else if (r >= 90) print "relay CPU";
    else if (p != "-" && p >= 20) print "CPU share (machine busy)";
    else print "sends in flight (window)" }'
}
lg() { # NAME ARGS...: one loadgen run; its output in $tmp/NAME.out, status in $tmp/NAME.rc
  name=$1
  shift
  l0=$(load)
  set +e
  "$bin/e2ee-loadgen" --spawn $pin "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
  echo $? > "$tmp/$name.rc"
  set -e
  echo "$l0 $(load) $(pressure)" > "$tmp/$name.load"
  printf '  %-28s %s\n' "$name" "$(tail -n 1 "$tmp/$name.out" | cut -c1-150)"
}

# A saturation figure: RUNS runs; keys FIG_* in report.kv; one table row in $tmp/rows.
sat() { # FIG LABEL TARGET ARGS...
  fig=$1 label=$2 target=$3
  shift 3
  i=1
  : > "$tmp/$fig.vals"
  while [ "$i" -le "$runs" ]; do
    lg "$fig.$i" --mode saturate --duration "$secs" "$@"
    if [ "$(cat "$tmp/$fig.$i.rc")" = 0 ]; then
      echo "$(kv "$tmp/$fig.$i.out" deliveries_per_s) $i" >> "$tmp/$fig.vals"
    fi
    i=$((i + 1))
  done
  n=$(wc -l < "$tmp/$fig.vals")
  if [ "$n" -eq 0 ]; then
    echo "| $label | $target | failed (see the log) | | | | | | | |" >> "$tmp/rows"
    emit "${fig}_failed" 1
    return
  fi
  all=$(cut -d' ' -f1 "$tmp/$fig.vals" | tr '\n' ' ')
  med=$(cut -d' ' -f1 "$tmp/$fig.vals" | median)
  # the run whose rate is the median stands for the other figures of the row
  mrun=$(sort -n "$tmp/$fig.vals" | sed -n "$(( (n + 1) / 2 ))p" | cut -d' ' -f2)
  f="$tmp/$fig.$mrun.out"
  for k in msgs_per_s deliveries_per_frame p50_us p99_us p999_us relay_cpu_pct \
           deliveries_per_relay_cpu_s loadgen_cpu_pct relay_hwm_kib errors; do
    emit "${fig}_$k" "$(kv "$f" "$k")"
  done
  emit "${fig}_deliveries_per_s" "$med"
  emit "${fig}_deliveries_per_s_runs" "$(echo "$all" | sed 's/ $//; s/ /,/g')"
  set -- $(cat "$tmp/$fig.$mrun.load")
  emit "${fig}_load" "$1"
  emit "${fig}_cpu_pressure_pct" "$3"
  b=$(bound "$(kv "$f" relay_cpu_pct)" "$(kv "$f" loadgen_cpu_pct)" "$3")
  emit "${fig}_bound" "$(echo "$b" | tr ' ' '_')"
  printf '| %s | %s | **%s** (%s) | %s | %s / %s | %s | %s | %s | %s / %s | %s |\n' \
    "$label" "$target" "$med" "$(echo "$all" | sed 's/ $//; s/ /, /g')" \
    "$(kv "$f" msgs_per_s)" "$(awk "BEGIN{printf \"%.1f\", $(kv "$f" p50_us)/1000}")" \
    "$(awk "BEGIN{printf \"%.1f\", $(kv "$f" p99_us)/1000}")" \
    "$(kv "$f" relay_cpu_pct)" "$(kv "$f" deliveries_per_relay_cpu_s)" \
    "$(kv "$f" loadgen_cpu_pct)" "$1" "$3" "$b" >> "$tmp/rows"
}

# ---------------------------------------------------------------- machine

: > "$tmp/report.kv"
: > "$tmp/rows"
date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$top" status --porcelain 2>/dev/null | grep -qv '^??' && echo " (modified)" || true)
emit date "$date_utc"
emit commit "$commit"
emit cpu "$(echo "$cpu" | tr ' ' '_')"
emit cores "$ncpu"
emit kernel "$(uname -r)"
emit load_start "$(load)"
echo "bench.sh: $cpu, $ncpu cores, load $(load), commit $commit$dirty"

# ---------------------------------------------------------------- crypto, pairwise, group

for b in crypto pairwise group; do
  echo "== bench_$b"
  "$bin/bench_$b" > "$tmp/bench_$b.out"
  grep -v '=' "$tmp/bench_$b.out" | sed 's/^/  /' | head -n 6
  grep -E '^[A-Za-z0-9_]+=' "$tmp/bench_$b.out" | sed "s/^/${b}_/" >> "$tmp/report.kv"
done

# ---------------------------------------------------------------- relay

echo "== relay (e2ee-loadgen, $runs runs of $secs s per figure)"
sat relay_g100_full "1 group of 100, 256 B, store_sync full (default)" ">= 400,000" \
    --clients 100 --group-size 100 --size 256 --store-sync full
sat relay_g100_normal "1 group of 100, 256 B, store_sync normal" ">= 400,000" \
    --clients 100 --group-size 100 --size 256 --store-sync normal
sat relay_g1000_full "1 group of 1,000, 256 B, full (100 senders, 2 in flight each)" \
    ">= 300,000" --clients 1000 --group-size 1000 --senders 100 --window 2 --size 256 \
    --store-sync full
sat relay_g1000_normal "1 group of 1,000, 256 B, normal (100 senders, 2 in flight each)" \
    ">= 300,000" --clients 1000 --group-size 1000 --senders 100 --window 2 --size 256 \
    --store-sync normal
runs_saved=$runs
runs=1
sat relay_g100_1k_full "1 group of 100, 1 KiB, full" "-" --clients 100 --group-size 100 \
    --size 1024 --store-sync full
sat relay_g100_16k_full "1 group of 100, 16 KiB, full" "-" --clients 100 --group-size 100 \
    --size 16384 --store-sync full
runs=$runs_saved

# latency at half the saturation rate (1 group of 100; then 1,000 clients in 10 groups)
half=$(awk -v r="$(sed -n 's/^relay_g100_full_msgs_per_s=//p' "$tmp/report.kv")" \
       'BEGIN {printf "%d", (r > 0 ? r : 2000) / 2}')
: > "$tmp/latrows"
for shape in "100 100" "1000 100"; do
  set -- $shape
  name="relay_lat_c$1_g$2"
  lg "$name" --mode saturate --clients "$1" --group-size "$2" --size 256 --rate "$half" \
     --duration "$secs" --store-sync full
  f="$tmp/$name.out"
  if [ "$(cat "$tmp/$name.rc")" = 0 ]; then
    for k in msgs_per_s deliveries_per_s p50_us p99_us p999_us sent_p50_us sent_p99_us \
             relay_cpu_pct errors; do
      emit "${name}_$k" "$(kv "$f" "$k")"
    done
    emit "${name}_rate" "$half"
    set -- "$1" "$2" $(cat "$tmp/$name.load")
    emit "${name}_cpu_pressure_pct" "$5"
    printf '| %s clients, groups of %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' \
      "$1" "$2" "$half" "$(kv "$f" deliveries_per_s)" "$(kv "$f" p50_us)" \
      "$(kv "$f" p99_us)" "$(kv "$f" p999_us)" "$(kv "$f" sent_p99_us)" \
      "$(kv "$f" relay_cpu_pct)" "$4" "$5" >> "$tmp/latrows"
  else
    echo "| $1 clients, groups of $2 | $half | failed | | | | | | |" >> "$tmp/latrows"
  fi
done

# memory per idle authenticated connection
: > "$tmp/memrows"
for i in 1 2; do
  name="relay_idle_10k.$i"
  lg "$name" --mode idle --clients 10000 --duration 2 --warmup 2
  f="$tmp/$name.out"
  if [ "$(cat "$tmp/$name.rc")" = 0 ]; then
    echo "$(kv "$f" relay_bytes_per_conn)" >> "$tmp/idle.vals"
    printf '| %s | 10,000 | %s | %s | %s | %s |\n' "$i" "$(kv "$f" relay_base_rss_kib)" \
      "$(kv "$f" relay_rss_kib)" "$(kv "$f" relay_bytes_per_conn)" "$(kv "$f" errors)" \
      >> "$tmp/memrows"
  else
    echo "| $i | 10,000 | failed | | | |" >> "$tmp/memrows"
  fi
done
if [ -s "$tmp/idle.vals" ]; then
  emit relay_idle_10k_bytes_per_conn "$(median < "$tmp/idle.vals")"
  emit relay_idle_10k_rss_kib "$(kv "$tmp/relay_idle_10k.1.out" relay_rss_kib)"
fi

# profile of the relay under saturation (1 group of 100, store_sync full)
profile=""
if command -v perf > /dev/null 2>&1; then
  echo "== profile (perf record on the relay, 3 s of saturation)"
  "$bin/e2ee-loadgen" --spawn $pin --mode saturate --clients 100 --group-size 100 \
      --size 256 --duration 6 --store-sync full > "$tmp/prof.out" 2>&1 &
  lgpid=$!
  i=0
  while [ $i -lt 300 ] && ! grep -q "set-up done" "$tmp/prof.out"; do
    sleep 0.1
    i=$((i + 1))
  done
  rpid=$(sed -n 's/.* pid \([0-9]*\) on .*/\1/p' "$tmp/prof.out" | head -n 1)
  sleep 1.5
  if [ -n "$rpid" ] && perf record -F 499 --call-graph dwarf,16384 -p "$rpid" \
        -o "$tmp/perf.data" -- sleep 3 > /dev/null 2>&1; then
    profile=yes
  fi
  wait "$lgpid" || true
  if [ -n "$profile" ]; then
    perf report -i "$tmp/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
      | grep '%' | awk '!seen[$2]++' | head -n 8 > "$tmp/prof.dso" || true
    perf report -i "$tmp/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
      | grep '%' | grep -E 'e2ee__|op_|sqlite3_step|Wal|__sys_sendto|__sys_recvfrom|do_sys_poll|lws_service_fd' \
      | awk '!seen[$4]++' | head -n 24 > "$tmp/prof.sym" || true
    awk '{gsub("%","",$1); print $2"="$1}' "$tmp/prof.dso" | tr -d '[]' \
      | sed 's/^/relay_profile_pct_/' >> "$tmp/report.kv"
  fi
fi

# end to end (clients of the client library: real encryption and decryption, all in the
# load generator's one thread): the ceiling (closed loop) with 100 clients and with
# E2E_CLIENTS clients in groups of 10, then RUNS latency runs of E2E_CLIENTS clients at half
# the E2E_CLIENTS ceiling (same client count and groups); the e2e_lat_* keys are those of
# the run with the median p99. Then the rekey rounds of one group of REKEY_G members.
e2e_clients=${E2EE_BENCH_E2E_CLIENTS:-1000}
rekey_g=${E2EE_BENCH_REKEY_G:-100}
echo "== end to end (client library)"
lg e2e_sat --mode e2e --clients 100 --group-size 10 --size 256 --duration "$secs"
lg e2e_satn --mode e2e --clients "$e2e_clients" --group-size 10 --size 256 --duration "$secs"
e2e_half=$(awk -v r="$(kv "$tmp/e2e_satn.out" msgs_per_s)" 'BEGIN { printf "%.0f", r / 2 }')
[ "$(cat "$tmp/e2e_satn.rc")" = 0 ] && [ "${e2e_half:-0}" -gt 0 ] || e2e_half=100
i=1
: > "$tmp/e2e_lat.p99s"
while [ "$i" -le "$runs" ]; do
  lg "e2e_lat.$i" --mode e2e --clients "$e2e_clients" --group-size 10 --size 256 \
     --rate "$e2e_half" --duration "$secs"
  echo "$(kv "$tmp/e2e_lat.$i.out" p99_us) $i" >> "$tmp/e2e_lat.p99s"
  i=$((i + 1))
done
# the run with the median p99 (a failed run has no p99 and sorts first)
med=$(sort -n "$tmp/e2e_lat.p99s" | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}')
for x in out rc load; do cp "$tmp/e2e_lat.$med.$x" "$tmp/e2e_lat.$x"; done
emit e2e_lat_p99_us_runs "$(cut -d' ' -f1 "$tmp/e2e_lat.p99s" | tr '\n' ',' | sed 's/,$//')"
lg rekey --mode rekey --clients "$rekey_g" --group-size "$rekey_g" --size 256
rekey_big_g=${E2EE_BENCH_REKEY_BIG_G:-1000}
rekey_big_s=${E2EE_BENCH_REKEY_SENDERS:-10}
if [ "$rekey_big_g" -gt 0 ]; then
  lg rekey_big --mode rekey --clients "$rekey_big_g" --group-size "$rekey_big_g" \
     --senders "$rekey_big_s" --size 256
fi
: > "$tmp/e2erows"
for f in e2e_sat e2e_satn e2e_lat rekey; do
  set -- $(cat "$tmp/$f.load")
  for k in msgs_per_s deliveries_per_s p50_us p99_us p999_us errors relay_cpu_pct \
           loadgen_cpu_pct first_send_ms first_send_bytes_out first_send_bytes_in rekey_ms \
           rekey_bytes_out rekey_bytes_in clients group_size rate; do
    emit "${f}_$k" "$(kv "$tmp/$f.out" "$k")"
  done
  emit "${f}_load" "$1"
  emit "${f}_pressure" "$3"
  emit "${f}_failed" "$(cat "$tmp/$f.rc")"
done
rows="e2e_sat e2e_satn"
i=1
while [ "$i" -le "$runs" ]; do rows="$rows e2e_lat.$i"; i=$((i + 1)); done
for f in $rows; do
  set -- $(cat "$tmp/$f.load")
  printf '| %s | %s clients, groups of 10 | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s / %s |\n' \
    "$f" "$(kv "$tmp/$f.out" clients)" "$(kv "$tmp/$f.out" rate)" \
    "$(kv "$tmp/$f.out" msgs_per_s)" "$(kv "$tmp/$f.out" deliveries_per_s)" \
    "$(awk -v a="$(kv "$tmp/$f.out" p50_us)" 'BEGIN { printf "%.1f", a / 1000 }')" \
    "$(awk -v a="$(kv "$tmp/$f.out" p99_us)" 'BEGIN { printf "%.1f", a / 1000 }')" \
    "$(awk -v a="$(kv "$tmp/$f.out" p999_us)" 'BEGIN { printf "%.1f", a / 1000 }')" \
    "$(kv "$tmp/$f.out" errors)" "$(kv "$tmp/$f.out" relay_cpu_pct)" \
    "$(kv "$tmp/$f.out" loadgen_cpu_pct)" "$1" "$3" >> "$tmp/e2erows"
done
# the rekey rounds: their CPU, and the large group's run
rekey_keys="first_send_senders first_send_sessions first_send_cpu_s first_send_relay_cpu_s \
            rekey_senders rekey_cpu_s rekey_relay_cpu_s"
for k in $rekey_keys; do emit "rekey_$k" "$(kv "$tmp/rekey.out" "$k")"; done
if [ -f "$tmp/rekey_big.out" ]; then
  set -- $(cat "$tmp/rekey_big.load")
  for k in $rekey_keys first_send_ms first_send_bytes_out first_send_bytes_in rekey_ms \
           rekey_bytes_out rekey_bytes_in errors clients group_size; do
    emit "rekey_big_$k" "$(kv "$tmp/rekey_big.out" "$k")"
  done
  emit rekey_big_load "$1"
  emit rekey_big_failed "$(cat "$tmp/rekey_big.rc")"
fi
rekey_row() { # FILE LABEL: one row of the rekey table (first send, then after the leave)
  set -- "$1" "$2" $(cat "$1.load")
  printf '| %s | first send | %s | %s | %s | %s | %s | %s |\n' "$2" \
    "$(kv "$1.out" first_send_senders)" "$(kv "$1.out" first_send_sessions)" \
    "$(kv "$1.out" first_send_ms)" "$(kv "$1.out" first_send_cpu_s)" \
    "$(kv "$1.out" first_send_bytes_out)" "$3"
  printf '| %s | after one member left | %s | 0 | %s | %s | %s | %s |\n' "$2" \
    "$(kv "$1.out" rekey_senders)" "$(kv "$1.out" rekey_ms)" \
    "$(kv "$1.out" rekey_cpu_s)" "$(kv "$1.out" rekey_bytes_out)" "$3"
}
rekey_row "$tmp/rekey" "$(kv "$tmp/rekey.out" group_size) members, all send" > "$tmp/rekeyrows"
if [ -f "$tmp/rekey_big.out" ]; then
  rekey_row "$tmp/rekey_big" "$(kv "$tmp/rekey_big.out" group_size) members, \
$rekey_big_s send" >> "$tmp/rekeyrows"
fi
emit load_end "$(load)"

# ---------------------------------------------------------------- REPORT.md

cp "$tmp/report.kv" "$out_kv"
{
  cat <<EOF
# e2ee benchmark report

Written by \`make bench\` (\`scripts/bench.sh $build\`) on $date_utc, commit \`$commit\`$dirty.

- Machine: $cpu, $ncpu cores online, $mem, Linux $(uname -r).
- Load average $(sed -n 's/^load_start=//p' "$tmp/report.kv") at the start, $(load) at the end. The machine
  may be shared with other work: every relay row below gives the load average and the CPU
  pressure (share of the last 10 s in which some task waited for a CPU) after its run.
- Relay runs: \`e2ee-loadgen --spawn\` starts \`$bin/e2ee-relay\` on a free loopback port with a
  fresh store in a temporary folder${pin:+, the relay pinned to CPU 0 and the load generator to CPU 1}.
  Clients log in with real identities (Ed25519 proofs), create and join the groups, then
  senders replay pre-encrypted group messages (opaque to the relay) as fast as the relay
  accepts them (saturation: each sender keeps a fixed number of sends in flight) or at a
  set rate; receivers check every delivery (order, sender, size, contents) and ack
  cumulatively. Latency is from send to receipt (same clock). Relay CPU and memory come
  from /proc of the relay process. Saturation figures are the median of $runs runs of $secs s.

## Relay throughput (saturation)

| figure | target | deliveries/s: median (runs) | msgs/s | p50 / p99 latency ms | relay CPU % | deliveries per relay CPU-second | load generator CPU % | load / CPU pressure % | bounded by |
|---|---|---|---|---|---|---|---|---|---|
EOF
  cat "$tmp/rows"
  cat <<EOF

"Deliveries per relay CPU-second" divides the rate by the CPU time the relay used in the
window: it is what one fully available core would carry at that batch size, and it moves
much less than the rate when other work shares the machine. "Bounded by" reads the run's
figures: the load generator or the relay when its process used 90 % of a core or more;
otherwise, with CPU pressure of 20 % or more, the share of the two cores that other work
left to the (pinned) relay and load generator; otherwise the sends kept in flight.
Saturation latency is mostly queueing: every sender keeps its sends in flight (4 each for
100 members; 100 senders with 2 each for 1,000), so latency = messages in flight / rate.

Durability: \`store_sync full\` (the relay's default) fsyncs the store at every batch commit;
\`normal\` does not fsync at commit (survives a crash of the relay, may lose the last commits
on power loss). One commit serves every request read in one loop iteration, so under load
the fsync is shared by hundreds of messages and the two modes end up close.

## Relay latency at half the saturation rate

Open loop: messages at a fixed total rate (half the median of the first row), senders
spread evenly over time; store_sync full. These latencies are the relay's alone (no
encryption); on a shared machine they largely measure how long the relay waits for a
CPU: read them with the CPU pressure column.

| shape | msgs/s | deliveries/s | p50 us | p99 us | p99.9 us | send-to-sent-result p99 us | relay CPU % | load / CPU pressure % |
|---|---|---|---|---|---|---|---|---|
EOF
  cat "$tmp/latrows"
  cat <<EOF

## Relay memory: idle authenticated connections

| run | connections | relay RSS before, KiB | relay RSS with them, KiB | bytes per connection | errors |
|---|---|---|---|---|---|
EOF
  cat "$tmp/memrows"
  cat <<EOF

Target: at most 8 KiB (8,192 bytes) per idle authenticated connection at 10,000
connections, all 10,000 held. The relay raises its descriptor limit to max_connections
+ 64 itself (and the load generator to its client count + 64).

## What bounds the relay figures
EOF
  if [ -n "$profile" ]; then
    cat <<EOF

\`perf record -F 499 --call-graph dwarf\` on the relay for 3 s of saturation (1 group of
100, 256 B, store_sync full). Time by library (self time):

\`\`\`
$(cat "$tmp/prof.dso")
\`\`\`

Relay functions, store operations and system calls (time including callees):

\`\`\`
$(cat "$tmp/prof.sym")
\`\`\`
EOF
  else
    echo
    echo "(perf is not installed: no profile in this report; apt-get install linux-perf.)"
  fi
  cat <<EOF

Reading it: under saturation the relay's time goes to the kernel's loopback TCP path
(one send per deliveries frame and per result; the receiving socket's work is done in the
sender's system call on loopback), to SQLite (per message: the dedup lookup and insert and
the log insert; per batch: the commit's WAL writes and, every 1,000 WAL pages, a
checkpoint), and little to the relay's own code. What was removed to get here (each step
profiled before and after; see the commit log of src/relay/): the store scan behind every
group ack (37% of the relay's CPU: acks now count from an in-memory index of the log), a
store write per ack without result and per sent message for the sender's cursor (cursors
now written every 0.5 s; PROTOCOL.md 3.11 allows losing such acks), the group row rewrite
per message, results splitting delivery batches (results now go ahead in their own lane),
one frame per loop iteration per connection, 2 KiB send() pieces (lws tx_packet_size), and
64 KiB of receive buffer per idle connection. The load generator has its own WebSocket
client: libwebsockets 4.1 parses received payload a byte at a time and capped it at about
235,000 deliveries/s on one core. When the load generator's CPU column nears 100 %, it,
not the relay, bounds that row.

## Crypto floor (bench_crypto)

\`\`\`
$(grep -v '=' "$tmp/bench_crypto.out")
\`\`\`

## Pairwise sessions (bench_pairwise)

\`\`\`
$(grep -v '=' "$tmp/bench_pairwise.out")
\`\`\`

## Group messages (bench_group)

\`\`\`
$(grep -v '=' "$tmp/bench_group.out")
\`\`\`

## End to end (client library)

Clients of libe2ee's public API (in-memory stores), all driven from the load generator's
one thread over one epoll set (a client is serviced only when its socket or wake descriptor
is ready or its timer is due): every message is encrypted by its sender's client and
decrypted and verified by every other member's client, in that thread. Latency is from the
send call to the decrypted event, through the relay, whose store commits every batch with
its default \`store_sync=full\` (an fsync) in a temporary folder under \`\${TMPDIR:-/tmp}\`.
\`e2e_sat\` and \`e2e_satn\` are closed loop (4 messages not yet accepted per sender) with 100
and $e2e_clients clients; the \`e2e_lat\` runs send half the \`e2e_satn\` msgs/s in total,
spread over the senders (p99 of each run: $(sed -n 's/^e2e_lat_p99_us_runs=//p' "$tmp/report.kv") us).
Group delivery acks are off (they only notify senders). Target: p99 under 20 ms at half the
saturation rate with 1,000 clients.

| run | clients | rate | msgs/s | deliveries/s | p50 / p99 ms | p99.9 ms | errors | relay CPU % | load generator CPU % | load / CPU pressure % |
|---|---|---|---|---|---|---|---|---|---|---|
$(cat "$tmp/e2erows")

What bounds these rows: the closed-loop rows by the load generator's one thread doing every
client's cryptography and store work (libsodium about half of its profile, SQLite about a
fifth; \`perf record -g\` on the load generator), or by its share of a busy CPU (load
generator CPU % well under 100 with CPU pressure high). The latency rows by the relay's
fsync per commit on a shared disk and by the load generator's CPU share: with
\`--store-sync normal\` or \`TMPDIR=/dev/shm\` the same run shows the clients' own part.
The relay's own CPU in the latency rows (about half a core at 313 msgs/s with 1,000
clients) is mostly \`poll()\`: libwebsockets' default event loop scans every connection's
descriptor at each wake-up (\`perf record -g -p RELAY_PID\`: sock_poll, tcp_poll, fdget
about 70%), so it grows with connections times wake-ups; it does not bound these rows (the
relay waits half the time), and an epoll-based loop (lws's libev plugin) is the lead.

## Rekey (client library)

| group | round | senders per group | new sessions | time ms | load generator CPU s | TCP bytes sent by the clients | load |
|---|---|---|---|---|---|---|---|
$(cat "$tmp/rekeyrows")

First send: the senders send one message each into the new group and every other member
decrypts it; each sender first builds a pairwise session with every other member (X3DH:
the bundles of all of them in one \`fetch_bundles\` request, docs/PROTOCOL.md 3.10) to carry
its sender key. After one member left: the same senders send one message each, readable by
all the remaining members; each makes a new sender key and sends it over the existing
sessions (one pairwise message per recipient, in the same relay frame as the message). The
time is the wall time of the round, all clients in the load generator's one thread on a
shared machine; the CPU column is that thread's CPU time for the round (the relay's is in
\`report.kv\`, \`*_relay_cpu_s\`), which is what bounds it: libsodium's curve operations
(per new session two Ed25519 verifications of the bundle and about four X25519 operations
at the initiator, about four X25519 and one verification at the receiver, none when it
already trusts the sender's key, as when both started a session at once, and one
verification of the group message) take about three quarters of the first round, the Double
Ratchet step and the store the rest of the second. Bytes are TCP payload (TCP_INFO of every
client socket), WebSocket framing included.

Distribution is lazy (src/client/group_send.c): a membership change only marks the sender
key stale; a member makes and distributes its new key when it next sends, so members who do
not send cost nothing. Rotating eagerly, one pairwise distribution per member pair, costs
G x (G - 1) pairwise messages at every change; lazily it costs (G - 1) per member who sends.
A full round in which all 1,000 members send is 999,000 new sessions (about 20 minutes of
this machine's CPU, all clients on one core); by default the large group's row gives the cost
of its first senders, which is that of every sender (per sender: the row divided by its
senders), and \`E2EE_BENCH_REKEY_SENDERS=1000 make bench\` runs the full rounds (about 30
minutes more). In such a round one sweep of the load generator over all clients takes
minutes, longer than a client's default keepalive (a WebSocket ping after 30 idle seconds,
hang-up after 60 without an answer): --mode rekey turns the clients' pings off
(\`keepalive_s\` 0) and gives the relay it spawns \`ping_interval=3600\` and
\`idle_timeout=7200\`. The wall time is then the sum of every member's work on one core; on
members' own devices the round takes about one member's share (CPU s / members) plus the
relay's fan-out.

## Commands

\`\`\`
make bench                                   # scripts/bench.sh $build: everything above
$bin/bench_crypto; $bin/bench_pairwise; $bin/bench_group
$bin/e2ee-loadgen --spawn $pin --mode saturate --clients 100 --group-size 100 --size 256 --duration $secs --store-sync full
$bin/e2ee-loadgen --spawn $pin --mode saturate --clients 1000 --group-size 1000 --senders 100 --window 2 --size 256 --duration $secs --store-sync full
$bin/e2ee-loadgen --spawn $pin --mode saturate --clients 1000 --group-size 100 --size 256 --rate $half --duration $secs
$bin/e2ee-loadgen --spawn $pin --mode idle --clients 10000 --duration 2 --warmup 2
$bin/e2ee-loadgen --spawn $pin --mode e2e --clients 100 --group-size 10 --size 256 --duration $secs
$bin/e2ee-loadgen --spawn $pin --mode e2e --clients $e2e_clients --group-size 10 --size 256 --duration $secs
$bin/e2ee-loadgen --spawn $pin --mode e2e --clients $e2e_clients --group-size 10 --size 256 --rate $e2e_half --duration $secs   # $runs runs
$bin/e2ee-loadgen --spawn $pin --mode rekey --clients $rekey_g --group-size $rekey_g --size 256
$bin/e2ee-loadgen --spawn $pin --mode rekey --clients $rekey_big_g --group-size $rekey_big_g --senders $rekey_big_s --size 256
perf record -F 499 --call-graph dwarf,16384 -p RELAY_PID -- sleep 3   # pid printed by --spawn
\`\`\`

Every key of this report is also in \`bench/report.kv\`.
EOF
} > "$out_md"
echo "bench.sh: wrote $out_md and $out_kv"
