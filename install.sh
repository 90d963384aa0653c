#!/usr/bin/env bash
# install.sh: installs, upgrades or removes Runner as a systemd service on a Linux VM (docs/deployment.md).
#
#   install.sh --url URL --sha256 HEX --runner-id ID [--api-url URL] [--token-file FILE] [--service-file FILE]
#   install.sh --file PATH [--sha256 HEX] ...        install a single executable you already have
#   install.sh --uninstall [--purge]                 stop and remove it (--purge: also env, token, state)
#
# The token is read from --token-file or standard input (never from the command line: argv shows in ps).
# Re-running upgrades in place: the binary is swapped atomically (written to <binary>.new, then renamed),
# the unit is re-rendered by the NEW binary (`runner service render`) and the service restarted, which
# drains running jobs first. Other options:
#   --service-file FILE   service.yml (user, paths, drain timeout, limits); kept as /etc/runner/service.yml
#   --no-start            install and enable, but do not start or restart
#   --root DIR            install under DIR (tests, image builds); then systemctl, useradd, groupadd and
#                         chown run only when SYSTEMCTL, USERADD, GROUPADD, CHOWN name a command to use
set -euo pipefail

readonly CONF_DIR_DEFAULT=/etc/runner
readonly API_URL_DEFAULT=https://api.nuon.co

url="" file="" sha256="" runner_id="" api_url="" token_file="" service_file=""
root="" uninstall=0 purge=0 start=1

die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
note() { printf 'install.sh: %s\n' "$*"; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --url) url=${2:?--url needs a value}; shift 2 ;;
    --file) file=${2:?--file needs a value}; shift 2 ;;
    --sha256) sha256=${2:?--sha256 needs a value}; shift 2 ;;
    --runner-id) runner_id=${2:?--runner-id needs a value}; shift 2 ;;
    --api-url) api_url=${2:?--api-url needs a value}; shift 2 ;;
    --token-file) token_file=${2:?--token-file needs a value}; shift 2 ;;
    --service-file) service_file=${2:?--service-file needs a value}; shift 2 ;;
    --root) root=${2:?--root needs a value}; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    --purge) purge=1; shift ;;
    --no-start) start=0; shift ;;
    --token) die "--token is not accepted: the command line is visible in ps; use --token-file FILE or stdin" ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ -n "$root" ]; then
  case "$root" in /*) ;; *) die "--root must be an absolute path, got $root" ;; esac
  root=${root%/}
elif [ "$(id -u)" -ne 0 ]; then
  die "run as root (it creates a system user and a systemd unit), or use --root DIR"
fi
conf_dir="$root$CONF_DIR_DEFAULT"

# Runs a system command named by $1's variable (SYSTEMCTL, USERADD, GROUPADD, CHOWN). Under --root it runs
# only when that variable is set, so that a test or an image build never touches the host.
sys() {
  local var=$1
  shift
  local cmd=${!var:-}
  if [ -z "$cmd" ]; then
    if [ -n "$root" ]; then
      note "skipped under --root: ${var,,} $*"
      return 0
    fi
    cmd=${var,,}
  fi
  "$cmd" "$@"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# key=value lines from `runner service render --format install-env`, each value checked before use.
declare -A svc=()
read_install_env() {
  local key value
  while IFS='=' read -r key value; do
    [ -n "$key" ] || continue
    [[ $value =~ ^[A-Za-z0-9._@+/-]+$ ]] || die "unexpected value for $key in the service settings"
    svc[$key]=$value
  done <"$1"
  for key in name unit mode user group binary stateDir envFile tokenFile; do
    [ -n "${svc[$key]:-}" ] || die "the service settings lack $key"
  done
}

# Writes stdin to $1 atomically with mode $2 (a temporary file in the same directory, then a rename).
write_file() {
  local dest=$1 mode=$2 tmp
  install -d -m 0755 "$(dirname "$dest")"
  tmp=$(mktemp "$dest.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

do_uninstall() {
  [ -f "$conf_dir/install.env" ] || die "nothing to uninstall: $conf_dir/install.env is missing"
  read_install_env "$conf_dir/install.env"
  sys SYSTEMCTL disable --now "${svc[unit]}" || note "could not stop ${svc[unit]}; removing it anyway"
  rm -f "$root/etc/systemd/system/${svc[unit]}"
  sys SYSTEMCTL daemon-reload
  rm -f "$root${svc[binary]}" "$root${svc[binary]}.new" "$conf_dir/install.env" "$conf_dir/service.yml"
  if [ "$purge" -eq 1 ]; then
    rm -rf "$root${svc[envFile]}" "$root${svc[tokenFile]}" "$root${svc[stateDir]}"
    note "removed ${svc[unit]}, ${svc[binary]}, the env and token files and ${svc[stateDir]} (user ${svc[user]} kept)"
  else
    note "removed ${svc[unit]} and ${svc[binary]}; kept ${svc[envFile]}, ${svc[tokenFile]} and ${svc[stateDir]} (--purge removes them)"
  fi
}

fetch_binary() {
  local dest=$1
  if [ -n "$url" ]; then
    [ -n "$sha256" ] || die "--url needs --sha256 HEX: a downloaded binary is only installed once its checksum matches"
    case "$url" in https://* | http://*) ;; *) die "--url must be an http(s) URL" ;; esac
    if command -v curl >/dev/null 2>&1; then
      curl --fail --silent --show-error --location --proto '=https,http' --retry 3 -o "$dest" "$url" ||
        die "could not download $url"
    else
      wget -q -O "$dest" "$url" || die "could not download $url"
    fi
  else
    [ -f "$file" ] || die "--file $file does not exist"
    cp "$file" "$dest"
  fi
  if [ -n "$sha256" ]; then
    local want got
    want=$(printf '%s' "$sha256" | tr 'A-F' 'a-f')
    [[ $want =~ ^[0-9a-f]{64}$ ]] || die "--sha256 must be 64 hexadecimal digits"
    got=$(sha256sum "$dest" | cut -d ' ' -f 1)
    [ "$got" = "$want" ] || die "sha256 mismatch: expected $want, got $got; nothing was installed"
  fi
  chmod 0755 "$dest"
}

read_token() {
  local token=""
  if [ -n "$token_file" ]; then
    [ -r "$token_file" ] || die "cannot read --token-file $token_file"
    IFS= read -r token <"$token_file" || true
  elif [ ! -t 0 ]; then
    IFS= read -r token || true
  elif [ ! -f "$root${svc[tokenFile]}" ]; then
    IFS= read -r -s -p "Runner API token: " token || true
    printf '\n' >&2
  fi
  token=${token%$'\r'}
  [ -z "$token" ] || [[ $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] ||
    die "the token has characters a token does not have (spaces, quotes…); check the token file"
  printf '%s' "$token"
}

# Existing value of KEY in the env file, if any.
env_value() {
  [ -f "$root${svc[envFile]}" ] || return 0
  sed -n "s/^$1=//p" "$root${svc[envFile]}" | tail -n 1
}

do_install() {
  if [ -n "$url" ] && [ -n "$file" ]; then die "give --url or --file, not both"; fi
  if [ -z "$url" ] && [ -z "$file" ]; then die "give --url URL --sha256 HEX or --file PATH (see --help)"; fi
  local new="$work/runner"
  fetch_binary "$new"
  local version
  version=$("$new" version 2>/dev/null) || die "the new binary does not run here (wrong architecture?): version failed"

  local spec=()
  if [ -n "$service_file" ]; then
    spec=(--file "$service_file")
  elif [ -f "$conf_dir/service.yml" ]; then
    spec=(--file "$conf_dir/service.yml")
  fi
  "$new" service render --format install-env "${spec[@]}" >"$work/install.env" ||
    die "the service definition is invalid (see above); nothing was installed"
  "$new" service render "${spec[@]}" >"$work/unit" || die "rendering the unit failed; nothing was installed"
  read_install_env "$work/install.env"

  local token old_id old_url
  token=$(read_token)
  if [ -z "$token" ] && [ ! -f "$root${svc[tokenFile]}" ]; then
    die "no token: pass --token-file FILE or pipe the token on stdin"
  fi
  old_id=$(env_value RUNNER_ID)
  old_url=$(env_value RUNNER_API_URL)
  runner_id=${runner_id:-$old_id}
  api_url=${api_url:-${old_url:-$API_URL_DEFAULT}}
  [ -n "$runner_id" ] || die "no runner id: pass --runner-id ID"
  [[ $runner_id =~ ^[A-Za-z0-9_-]+$ ]] || die "--runner-id must be letters, digits, _ and -"
  [[ $api_url =~ ^https?://[A-Za-z0-9._~:/?#@!\&+,\;=%-]+$ ]] || die "--api-url must be an http(s) URL"

  # the account the service runs as
  if ! getent group "${svc[group]}" >/dev/null; then
    sys GROUPADD --system "${svc[group]}"
  fi
  if ! getent passwd "${svc[user]}" >/dev/null; then
    sys USERADD --system --gid "${svc[group]}" --home-dir "${svc[stateDir]}" --no-create-home \
      --shell /usr/sbin/nologin "${svc[user]}"
  fi
  install -d -m 0700 "$root${svc[stateDir]}"
  sys CHOWN "${svc[user]}:${svc[group]}" "$root${svc[stateDir]}"

  # env file: our two keys replaced, any other line the operator added kept
  {
    if [ -f "$root${svc[envFile]}" ]; then grep -v -E '^(RUNNER_API_URL|RUNNER_ID)=' "$root${svc[envFile]}" || true; fi
    printf 'RUNNER_API_URL=%s\nRUNNER_ID=%s\n' "$api_url" "$runner_id"
  } >"$work/env"
  write_file "$root${svc[envFile]}" 0644 <"$work/env"
  if [ -n "$token" ]; then
    (umask 077 && printf 'RUNNER_API_TOKEN=%s\n' "$token" >"$work/token")
    write_file "$root${svc[tokenFile]}" 0600 <"$work/token"
  fi
  if [ -n "$service_file" ]; then write_file "$conf_dir/service.yml" 0644 <"$service_file"; fi
  write_file "$conf_dir/install.env" 0644 <"$work/install.env"

  # the binary: atomic swap, so a running service never sees a half-written file
  local dest="$root${svc[binary]}" upgrade=0
  [ -e "$dest" ] && upgrade=1
  install -d -m 0755 "$(dirname "$dest")"
  install -m 0755 "$new" "$dest.new"
  mv -f "$dest.new" "$dest"
  write_file "$root/etc/systemd/system/${svc[unit]}" 0644 <"$work/unit"

  sys SYSTEMCTL daemon-reload
  if [ "$start" -eq 0 ]; then
    sys SYSTEMCTL enable "${svc[unit]}"
  elif [ "$upgrade" -eq 1 ]; then
    sys SYSTEMCTL enable "${svc[unit]}"
    sys SYSTEMCTL restart "${svc[unit]}" # SIGTERM: the old runner drains its jobs, then the new one starts
  else
    sys SYSTEMCTL enable --now "${svc[unit]}"
  fi
  if [ "$upgrade" -eq 1 ]; then
    note "upgraded ${svc[binary]} ($version) and ${svc[unit]}"
  else
    note "installed ${svc[binary]} ($version) as ${svc[unit]}, running as ${svc[user]}"
  fi
}

if [ "$uninstall" -eq 1 ]; then do_uninstall; else do_install; fi
