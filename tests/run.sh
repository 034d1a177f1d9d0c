#!/usr/bin/env bash
# The test command. The unit tier runs once, everywhere; the host and browser tiers run once per
# ComfyUI host found (COMFYUI_PATH, one checkout or several joined with ':'; <ComfyUI>/custom_nodes/;
# or /opt/ComfyUI and /opt/ComfyUI-*), each with that host's Python, and skip with the reason when
# there is none. Arguments that name test paths pick the tiers or files to run (tests/unit,
# tests/browser, tests/host/test_server.py, ...::test_name); every other argument goes to pytest.
# Prints each host's ComfyUI version and result; fails when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
source devtools/python.sh

unit=() hosted=() options=() takes_value=""
for arg in "$@"; do
  path=${arg%%::*}
  path=${path%/}
  if [[ -z $takes_value && $arg != -* && -e $path ]]; then
    case $path in
      tests) unit+=(tests/unit); hosted+=(tests/host tests/browser) ;;
      tests/unit|tests/unit/*) unit+=("$arg") ;;
      *) hosted+=("$arg") ;;
    esac
  else
    options+=("$arg")
  fi
  # The value of a pytest option is never a test path, even where it names one (-k, --ignore, ...).
  case $arg in
    -k|-m|-p|-o|-c|-W|--deselect|--ignore|--ignore-glob|--rootdir|--basetemp|--junitxml|--maxfail|--tb) takes_value=1 ;;
    *) takes_value="" ;;
  esac
done
if (( ${#unit[@]} == 0 && ${#hosted[@]} == 0 )); then
  unit=(tests/unit) hosted=(tests/host tests/browser)
fi

summary=() failed=0
run_pytest() {  # label, then pytest's arguments
  local label=$1
  shift
  "$PY" -m pytest "$@" ${options[@]+"${options[@]}"}
  local status=$?
  (( status == 5 )) && status=0  # a selection with nothing to collect in this tier is not a failure
  summary+=("$label: $( ((status == 0)) && echo passed || echo "FAILED (pytest exit $status)")")
  (( status == 0 )) || failed=1
}

first_host=$(head -n 1 <<<"$HOSTS")
if (( ${#unit[@]} )); then
  use_python "$first_host" || exit 2
  echo "== unit tier; python: $PY"
  run_pytest "unit tier" "${unit[@]}"
fi
if (( ${#hosted[@]} )); then
  if [[ -z $HOSTS ]]; then
    use_python "" || exit 2
    echo "== host and browser tiers: $HOST_REASON"
    run_pytest "host and browser tiers (no host: skipped)" "${hosted[@]}"
  else
    echo "== hosts: $HOST_REASON"
    while IFS= read -r host; do
      use_python "$host" || exit 2
      version=$(host_version "$host")
      echo "== host and browser tiers on ComfyUI $version at $host; python: $PY"
      COMFYUI_PATH=$host run_pytest "ComfyUI $version at $host" "${hosted[@]}"
    done <<<"$HOSTS"
  fi
fi

echo
printf '%s\n' "${summary[@]}"
exit $failed
