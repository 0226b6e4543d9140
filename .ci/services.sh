# Install and start what the tests need on a fresh Debian/Ubuntu machine: Java (Spark), Chromium (browser
# tests, PDF), PostgreSQL (ledger store, PostgreSQL inputs). Source it: it exports MISFLAG_TEST_POSTGRES_URL.
# Idempotent: safe to run again on a machine that already has everything. Needs root or sudo to install.
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" -eq 0 ]; then _misflag_root=(); else _misflag_root=(sudo -E); fi
_misflag_need=()
command -v java >/dev/null 2>&1 || _misflag_need+=(default-jre-headless)
[ -x /usr/bin/chromium ] || _misflag_need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || _misflag_need+=(postgresql)
if [ ${#_misflag_need[@]} -gt 0 ]; then
  echo "installing: ${_misflag_need[*]}"
  "${_misflag_root[@]}" apt-get update -qq >/dev/null
  "${_misflag_root[@]}" apt-get install -y -qq --no-install-recommends "${_misflag_need[@]}" >/dev/null
fi
_misflag_pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_lsclusters -h 2>/dev/null | grep -q . || "${_misflag_root[@]}" pg_createcluster "$_misflag_pg_version" main >/dev/null
  "${_misflag_root[@]}" pg_ctlcluster "$_misflag_pg_version" main start
fi
_misflag_psql() { "${_misflag_root[@]}" su postgres -c "$1"; }
_misflag_psql "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='misflag'\" | grep -q 1 || psql -q -c \"CREATE ROLE misflag LOGIN SUPERUSER PASSWORD 'misflag'\""
_misflag_psql "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='misflag_test'\" | grep -q 1 || createdb -O misflag misflag_test"
export MISFLAG_TEST_POSTGRES_URL="postgresql://misflag:misflag@127.0.0.1:5432/misflag_test"
