#!/usr/bin/env bash
# Runs the e2e suite against KUBECONFIG and ends with one line
# `e2e: N passed, N failed, N skipped` summed over cargo's results.
#
#   run-suite.sh [TEST_THREADS] [cargo test filter...]
#   CARGO (default cargo), E2E_PROFILE (default ci: shares `make test`'s build)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

threads=${1:-3}
shift || true
: "${KUBECONFIG:?set KUBECONFIG to the cluster to test}"
CARGO=${CARGO:-cargo}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$SECONDS
# --nocapture: each scenario prints its figures (unavailability, writes lost,
# its own time) as it goes, each line prefixed with the scenario's name.
# --workspace (not -p kcache-e2e): the same package selection as `make test`, so
# that dependencies get the same features and that build is reused rather than
# kube and the operator being compiled again (about 3 minutes on 2 cores).
# shellcheck disable=SC2086 # CARGO may be "nice -n 5 cargo"
$CARGO test --profile "${E2E_PROFILE:-ci}" --workspace --test e2e -- \
  --ignored --nocapture --test-threads "$threads" --skip serial:: "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Then the scenarios that disturb what all share (the operator), one at a time:
# all of them without a filter, or those a filter naming serial:: picks.
serial=(serial::)
if (($#)); then
  serial=()
  for f in "$@"; do [[ $f == serial* ]] && serial+=("$f"); done
fi
if ((${#serial[@]})); then
  # shellcheck disable=SC2086
  $CARGO test --profile "${E2E_PROFILE:-ci}" --workspace --test e2e -- \
    --ignored --nocapture --test-threads 1 "${serial[@]}" 2>&1 | tee -a "$log"
  serial_status=${PIPESTATUS[0]}
  [ "$status" -ne 0 ] || status=$serial_status
fi

awk -v secs=$((SECONDS - start)) '
  /^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed;?$/) p += $(i-1)
      if ($(i) ~ /^failed;?$/) f += $(i-1)
      if ($(i) ~ /^ignored;?$/) s += $(i-1)
    }
    seen = 1
  }
  END {
    if (!seen) f += 1
    printf "e2e suite took %ds\n", secs
    printf "e2e: %d passed, %d failed, %d skipped\n", p, f, s
  }' "$log"
exit "$status"
