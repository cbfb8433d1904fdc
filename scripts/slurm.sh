#!/bin/sh
# A real single-node Slurm (slurmctld, slurmd, slurmrestd with JWT, munge)
# under one directory, for the Slurm backend's tests. Debian 12, run as root.
# Nothing outside DIR is touched, except installing the packages and
# creating the `slurm` system user when they are missing.
#
#   scripts/slurm.sh start DIR         config under DIR, start the daemons, print the REST URL
#   scripts/slurm.sh token DIR [USER]  print a JWT for USER (default slurm), valid one day
#   scripts/slurm.sh restart-rest DIR  SIGTERM slurmrestd and start it again on its port
#   scripts/slurm.sh stop DIR          cancel remaining jobs, SIGTERM the daemons (reverse order)
#
# Every daemon runs in the foreground mode as a background process whose PID
# is recorded in DIR/pids ("name pid" per line); stop and restart-rest signal
# those PIDs only, never a process found by name. DIR/url holds the REST URL,
# DIR/etc/slurm.conf the configuration (export SLURM_CONF to use the clients).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
REST_API=v0.0.38 # the only current API version of Slurm 22.05; one place

die() {
  echo "slurm.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start DIR | token DIR [USER] | restart-rest DIR | stop DIR" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
case $2 in /*) D=$2 ;; *) D=$(pwd)/$2 ;; esac
export SLURM_CONF="$D/etc/slurm.conf"
unset SLURM_JWT # JWT in this shell would switch scontrol to JWT auth

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The recorded PID of a daemon, if that process is still the one we started.
recorded_pid() {
  [ -f "$D/pids" ] || return 0
  awk -v n="$1" '$1 == n { p = $2 } END { if (p) print p }' "$D/pids"
}

pid_is_ours() { # pid program: alive, not a zombie, and running that program
  [ -r "/proc/$1/cmdline" ] || return 1
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null || true)
  [ "$st" != Z ] && [ -n "$st" ] || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}

program_of() {
  case $1 in
    munged) echo munged ;;
    slurmctld) echo slurmctld ;;
    slurmd) echo slurmd ;;
    slurmrestd) echo slurmrestd ;;
  esac
}

stop_pid() { # name pid: SIGTERM, wait up to 15 s, then SIGKILL
  name=$1
  pid=$2
  prog=$(program_of "$name")
  pid_is_ours "$pid" "$prog" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  i=0
  while pid_is_ours "$pid" "$prog" && [ $i -lt 150 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if pid_is_ours "$pid" "$prog"; then
    echo "slurm.sh: $name ($pid) did not stop on SIGTERM; SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

record() { # name pid
  echo "$1 $2" >>"$D/pids"
}

start_rest() {
  port=$(cat "$D/rest_port")
  # slurmrestd refuses to run as root (-u); -s: no accounting daemon;
  # SLURM_JWT=daemon: authenticate each request by its own JWT.
  SLURM_JWT=daemon setsid slurmrestd -u slurm -g slurm -s "openapi/$REST_API" -a rest_auth/jwt \
    "127.0.0.1:$port" </dev/null >>"$D/log/slurmrestd.log" 2>&1 &
  record slurmrestd $!
  # Ready once it answers HTTP (any status: without a token it says 401/500).
  i=0
  until curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/slurm/$REST_API/ping"; do
    i=$((i + 1))
    if [ $i -ge 100 ] || ! pid_is_ours "$(recorded_pid slurmrestd)" slurmrestd; then
      tail -n 20 "$D/log/slurmrestd.log" >&2 || true
      die "slurmrestd did not start on 127.0.0.1:$port"
    fi
    sleep 0.1
  done
}

do_start() {
  command -v python3 >/dev/null 2>&1 || die "python3 is needed (to pick free ports)"
  [ "$(id -u)" -eq 0 ] || die "start needs root (the daemons run as root, slurmrestd as slurm)"
  "$here/deps.sh" slurm
  id slurm >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin slurm
  for p in munged slurmctld slurmd slurmrestd scontrol squeue scancel curl; do
    command -v $p >/dev/null 2>&1 || die "$p is not installed (scripts/deps.sh slurm)"
  done
  if [ -f "$D/pids" ]; then
    while read -r name pid; do
      pid_is_ours "$pid" "$(program_of "$name")" && die "already running in $D ($name $pid)"
    done <"$D/pids"
  fi
  mkdir -p "$D"
  # The REST daemon (user slurm) reads the config; jobs may run as other users.
  chmod 755 "$D"
  rm -f "$D/pids"
  mkdir -p "$D/etc" "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/run"
  chmod 755 "$D/etc" "$D/munge" "$D/log"
  chmod 700 "$D/state" "$D/run"

  # munge: its own key and socket under D (the socket directory mode 755).
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 400 "$D/munge/munge.key"
  # JWT key: 32 random bytes, read by slurmctld (root).
  dd if=/dev/urandom of="$D/etc/jwt_hs256.key" bs=32 count=1 2>/dev/null
  chmod 600 "$D/etc/jwt_hs256.key"

  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
  rest_port=$(free_port)
  echo "$rest_port" >"$D/rest_port"
  cpus=$(nproc)
  cat >"$D/etc/slurm.conf" <<EOF
# Written by scripts/slurm.sh: a single node on loopback, no cgroups, no accounting.
ClusterName=sparselaw
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$D/etc/jwt_hs256.key
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
MinJobAge=600
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  # One GPU that is /dev/null (Slurm drops a GPU without a device file): jobs that ask for
  # --gres=gpu:1 are scheduled and run here, so a CUDA sweep is routed through Slurm in tests.
  echo "Name=gpu File=/dev/null" >"$D/etc/gres.conf"
  chmod 644 "$D/etc/slurm.conf" "$D/etc/gres.conf"
  # slurmrestd runs as slurm: every directory above D must let it through.
  if ! runuser -u slurm -- test -r "$D/etc/slurm.conf"; then
    die "user slurm cannot read $D/etc/slurm.conf: make every directory above $D searchable (chmod o+x)"
  fi

  setsid munged -F --force --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
    --pid-file="$D/run/munged.pid" --log-file="$D/log/munged.log" \
    --seed-file="$D/munge/munge.seed" </dev/null >>"$D/log/munged.out" 2>&1 &
  record munged $!
  i=0
  until [ -S "$D/munge/munge.socket" ]; do
    i=$((i + 1))
    if [ $i -ge 100 ] || ! pid_is_ours "$(recorded_pid munged)" munged; then
      cat "$D/log/munged.out" "$D/log/munged.log" >&2 2>/dev/null || true
      die "munged did not start"
    fi
    sleep 0.1
  done

  setsid slurmctld -D -i </dev/null >>"$D/log/slurmctld.out" 2>&1 &
  record slurmctld $!
  i=0
  until scontrol ping 2>/dev/null | grep -q "is UP"; do
    i=$((i + 1))
    if [ $i -ge 150 ] || ! pid_is_ours "$(recorded_pid slurmctld)" slurmctld; then
      tail -n 30 "$D/log/slurmctld.log" "$D/log/slurmctld.out" >&2 2>/dev/null || true
      die "slurmctld did not start"
    fi
    sleep 0.1
  done

  setsid slurmd -D -N localhost </dev/null >>"$D/log/slurmd.out" 2>&1 &
  record slurmd $!
  i=0
  until sinfo -h -n localhost -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; do
    i=$((i + 1))
    if [ $i -ge 200 ] || ! pid_is_ours "$(recorded_pid slurmd)" slurmd; then
      sinfo -N -l >&2 2>/dev/null || true
      tail -n 30 "$D/log/slurmd.log" "$D/log/slurmd.out" >&2 2>/dev/null || true
      die "slurmd did not register with slurmctld"
    fi
    sleep 0.1
  done

  start_rest
  echo "http://127.0.0.1:$rest_port" >"$D/url"
  cat "$D/url"
}

do_token() {
  user=${3:-slurm}
  case $user in *[!a-z0-9_.-]* | "") die "bad user name '$user'" ;; esac
  out=$(scontrol token "username=$user" lifespan=86400) || die "scontrol token failed: $out"
  echo "${out#SLURM_JWT=}"
}

do_restart_rest() {
  [ -f "$D/rest_port" ] || die "no Slurm in $D"
  pid=$(recorded_pid slurmrestd)
  [ -n "$pid" ] && stop_pid slurmrestd "$pid"
  start_rest
  cat "$D/url"
}

do_stop() {
  [ -f "$D/pids" ] || return 0
  if pid_is_ours "$(recorded_pid slurmctld)" slurmctld; then
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -n "$jobs" ] && scancel $jobs 2>/dev/null || true
    # Give slurmd a moment to kill the jobs' processes.
    i=0
    while [ -n "$(squeue -h -o %i 2>/dev/null || true)" ] && [ $i -lt 50 ]; do
      sleep 0.1
      i=$((i + 1))
    done
  fi
  # Reverse order of start; each name's latest PID (slurmrestd may have been restarted).
  for name in slurmrestd slurmd slurmctld munged; do
    awk -v n="$name" '$1 == n { print $2 }' "$D/pids" | while read -r pid; do
      stop_pid "$name" "$pid"
    done
  done
}

case $cmd in
  start) do_start ;;
  token) do_token "$@" ;;
  restart-rest) do_restart_rest ;;
  stop) do_stop ;;
  *) usage ;;
esac
