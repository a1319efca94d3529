#!/bin/bash
# postfix_e2e.sh - the scenarios of scenarios.sh against a private Postfix.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/milter.sh"
. "$here/../lib/postfix.sh"
. "$here/scenarios.sh"
t_init e2e-postfix
scenarios_run
