#!/usr/bin/env bash
# Runs the local SMTP catcher (MailDev, from tools/): every message the shop sends lands in its
# inbox instead of anyone's mailbox. Its web page (and JSON API under /api) shows the inbox.
#
#   bash scripts/mail-catcher.sh SMTP_PORT WEB_PORT    in the foreground (dev.sh)
#   eval "$(bash scripts/mail-catcher.sh --background)"
#       on two free ports, in the background, once it listens; sets MAIL_CATCHER_SMTP,
#       MAIL_CATCHER_API and MAIL_CATCHER_PID (test.sh, repeat-tests.sh). Log:
#       target/mail-catcher.log.
set -euo pipefail
cd "$(dirname "$0")/.."
maildev=tools/node_modules/maildev/dist/bin/maildev.js
run() { exec node "$maildev" --ip 127.0.0.1 --smtp "$1" --web-ip 127.0.0.1 --web "$2" --max-emails 5000; }

if [ "${1:-}" != "--background" ]; then
  run "${1:?SMTP port}" "${2:?web port}"
fi

read -r smtp web < <(python3 -c '
import socket
held = [socket.socket() for _ in range(2)]
for s in held: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in held])')
mkdir -p target
(run "$smtp" "$web") >target/mail-catcher.log 2>&1 &
pid=$!
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 150); do
  listening "$smtp" && listening "$web" && break
  sleep 0.1
done
if ! listening "$smtp"; then
  cat target/mail-catcher.log >&2
  kill "$pid" 2>/dev/null || true
  exit 1
fi
echo "export MAIL_CATCHER_SMTP=smtp://127.0.0.1:$smtp MAIL_CATCHER_API=http://127.0.0.1:$web/api MAIL_CATCHER_PID=$pid"
