#!/bin/bash
# Daily backups: at BACKUP_HOUR (UTC) a custom-format pg_dump of the database into /backups,
# written under a temporary name and renamed when complete, so a half-written dump never looks
# like a backup; dumps older than BACKUP_RETENTION_DAYS days are deleted afterwards.
set -euo pipefail
hour=${BACKUP_HOUR:-3}
keep_days=${BACKUP_RETENTION_DAYS:-14}

dump() {
  local name
  name="/backups/mana-$(date -u +%Y-%m-%dT%H%M%SZ).dump"
  pg_dump --format=custom --file="$name.partial"
  mv "$name.partial" "$name"
  find /backups -name 'mana-*.dump' -mtime +"$keep_days" -delete
  echo "backup: wrote $name; kept the last $keep_days days"
}

until pg_isready -q; do sleep 2; done
while true; do
  now=$(date -u +%s)
  next=$(date -u -d "today ${hour}:00" +%s)
  [ "$next" -gt "$now" ] || next=$(date -u -d "tomorrow ${hour}:00" +%s)
  sleep $((next - now))
  dump || echo "backup: pg_dump failed; trying again at the next hour mark" >&2
done
