#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for CI and for trying profiles/slurm without a
# cluster: Debian's packages (SLURM 22.05), no systemd, no cgroups. Run as root; idempotent: it
# returns at once when `sinfo` already answers. Accounting runs through slurmdbd and MariaDB:
# `sacct` is the executor plugin's default way to poll jobs (with accounting_storage/none it fails
# and Snakemake waits forever), and the tests read each job's allocation from it. The node
# declares two GPUs (files /dev/null and /dev/zero), so that the profile's GPU requests schedule on a CPU-only
# node two at a time, and the profile's memory requests (sized for the default analysis) as if
# it had 64 GB: slurmd takes the declared node over what it detects (config_overrides).
# Partition: $SLURM_UP_PARTITION (default "debug", the default partition).
set -euo pipefail
partition=${SLURM_UP_PARTITION:-debug}
started=$SECONDS

answers() { timeout 10 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
if command -v sinfo >/dev/null && answers; then
    echo "slurm-up: SLURM already answers"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "slurm-up: needs root" >&2; exit 1; }

packages="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq $packages >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $packages >/dev/null; }

node=$(hostname -s)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /run/mysqld
chown munge:munge /run/munge
chown mysql:mysql /run/mysqld

# the node as slurmd sees it (CPUs, sockets, cores), with 64 GB and two GPUs
hardware=$(slurmd -C | head -1 | sed 's/RealMemory=[0-9]*/RealMemory=64000/')
cat > /etc/slurm/slurm.conf <<EOF
ClusterName=mlhep
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStoreFlags=job_comment
AccountingStorageTRES=gres/gpu
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ReturnToService=2
MinJobAge=300
SchedulerParameters=sched_interval=2
SlurmdParameters=config_overrides
$hardware Gres=gpu:2 State=UNKNOWN
PartitionName=$partition Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
printf "NodeName=$node Name=gpu File=%s\n" /dev/null /dev/zero > /etc/slurm/gres.conf
cat > /etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
EOF
chmod 600 /etc/slurm/slurmdbd.conf

wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
    local limit=$1; shift
    for _ in $(seq "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    echo "slurm-up: gave up waiting for: $*" >&2; return 1
}

[ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
pgrep -x munged >/dev/null || runuser -u munge -- munged
[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null
pgrep -x mariadbd >/dev/null || (setsid mariadbd --user=mysql >/var/log/slurm/mariadb.log 2>&1 < /dev/null &)
wait_for 60 mariadb -e "select 1"
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
pgrep -x slurmdbd >/dev/null || slurmdbd
wait_for 60 sacctmgr -n list cluster
sacctmgr -n list cluster format=cluster | grep -qw mlhep || sacctmgr -i add cluster mlhep >/dev/null
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd -N "$node"
wait_for 60 answers
scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
wait_for 60 sacct -n -X
echo "slurm-up: SLURM answers (node $node, partition $partition) after $((SECONDS - started)) s"
sinfo
