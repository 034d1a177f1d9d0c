#!/usr/bin/env bash
# The test command. The unit tier runs once, everywhere; the host and browser tiers run once per
# ComfyUI host found (COMFYUI_PATH, one checkout or several joined with ':'; <ComfyUI>/custom_nodes/;
# or /opt/ComfyUI and /opt/ComfyUI-*), each with that host's Python, and skip with the reason when
# there is none. Arguments that name test paths pick the tiers or files to run (tests/unit,
# tests/browser, tests/host/test_server.py, ...::test_name); every other argument goes to pytest.
# Each tier runs on every core (pytest-xdist's worksteal: each worker starts on its own run of whole files, so a
# file's fixtures are made once, and takes tests from another's when it runs out); -n N picks the number of
# workers (-n 0: one process). --quick runs what a change most likely breaks: the
# unit tier and the host tier's core files (QUICK_FILES) on the first host, no browser.
# Prints each tier's time, each host's ComfyUI version and result; fails when any run fails. TCFG_DRY_RUN=1 prints
# each pytest command instead of running it.
set -uo pipefail
cd "$(dirname "$0")/.."
source devtools/python.sh

# The host tier's files that most changes touch: registration, the guider and patch against core, reuse, caches,
# official rules and recipes, expert chains, faults.
QUICK_FILES=(tests/host/test_registration.py tests/host/test_truncation_host.py tests/host/test_reuse_host.py
  tests/host/test_counts_against_core.py tests/host/test_step_caches.py tests/host/test_official_rules_host.py
  tests/host/test_recipes.py tests/host/test_expert_chains.py tests/host/test_faults.py tests/host/test_cfg_schedule.py
  tests/host/test_renorm_host.py)

unit=() hosted=() options=() takes_value="" quick="" workers_given="" previous=""
for arg in "$@"; do
  if [[ -z $takes_value && $arg == --quick ]]; then
    quick=1
    continue
  fi
  if [[ -z $takes_value && $arg =~ ^(-n|--numprocesses) ]] || [[ $previous == -p && $arg == no:xdist ]] \
      || [[ $arg == -pno:xdist ]]; then
    workers_given=1
  fi
  previous=$arg
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
    -k|-m|-p|-o|-c|-W|-n|--numprocesses|--dist|--deselect|--ignore|--ignore-glob|--rootdir|--basetemp|--junitxml|--maxfail|--tb)
      takes_value=1 ;;
    *) takes_value="" ;;
  esac
done
if [[ -n $quick ]]; then
  unit=(tests/unit) hosted=("${QUICK_FILES[@]}")
  HOSTS=$(head -n 1 <<<"$HOSTS")
elif (( ${#unit[@]} == 0 && ${#hosted[@]} == 0 )); then
  unit=(tests/unit) hosted=(tests/host tests/browser)
fi
# One worker per core unless the command line says otherwise (-n, or -p no:xdist).
parallel=() workers="workers as the command line says"
if [[ -z $workers_given ]]; then
  cores=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc itself follows OMP_NUM_THREADS
  parallel=(-n "$cores" --dist worksteal) workers="$cores workers"
  # One thread each (the workers, and the ComfyUI servers they start): two processes with a thread per core each
  # contend for every core and run several times slower than one. A test that pins a count (the trainings) still
  # gets it, and its threads wait asleep rather than spinning while another worker holds a core.
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
fi

summary=() failed=0
run_pytest() {  # label, then pytest's arguments
  local label=$1 started=$SECONDS status=0
  shift
  if [[ -n ${TCFG_DRY_RUN:-} ]]; then  # the tests of this script: the command, not the run
    echo "would run: $PY -m pytest $* ${parallel[*]} ${options[*]}"
  else
    "$PY" -m pytest "$@" ${parallel[@]+"${parallel[@]}"} ${options[@]+"${options[@]}"}
    status=$?
  fi
  (( status == 5 )) && status=0  # a selection with nothing to collect in this tier is not a failure
  summary+=("$label: $( ((status == 0)) && echo passed || echo "FAILED (pytest exit $status)") in $((SECONDS - started)) s")
  (( status == 0 )) || failed=1
}

first_host=$(head -n 1 <<<"$HOSTS")
if (( ${#unit[@]} )); then
  use_python "$first_host" || exit 2
  echo "== unit tier ($workers); python: $PY"
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
      echo "== host and browser tiers on ComfyUI $version at $host ($workers); python: $PY"
      COMFYUI_PATH=$host run_pytest "ComfyUI $version at $host" "${hosted[@]}"
    done <<<"$HOSTS"
  fi
fi

echo
printf '%s\n' "${summary[@]}"
echo "all tiers: $SECONDS s"
exit $failed
