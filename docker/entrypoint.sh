#!/bin/sh
# The container's start: bring the schema up to this release's migrations, then serve.
# Arguments (compose's `command:`) go on to `serve` and win over the defaults here, e.g.
# `--workers 8`; WEB_CONCURRENCY and FORWARDED_ALLOW_IPS set the same from the environment.
set -eu

supervision-survey db upgrade
exec supervision-survey serve --host 0.0.0.0 --port 8000 --proxy-headers "$@"
