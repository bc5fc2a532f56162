#!/bin/bash
# Fails when this server's replication is broken or more than MAX_LAG
# seconds behind; keepalived then lowers the priority by 20.
MAX_LAG=30

status=$(mysql --defaults-file=/etc/keepalived/my.cnf -e 'SHOW SLAVE STATUS\G')
io=$(echo "$status" | awk '/Slave_IO_Running:/ {print $2}')
sql=$(echo "$status" | awk '/Slave_SQL_Running:/ {print $2}')
lag=$(echo "$status" | awk '/Seconds_Behind_Master:/ {print $2}')

[ "$io" = "Yes" ] && [ "$sql" = "Yes" ] || exit 1
[ "$lag" != "NULL" ] && [ "$lag" -le "$MAX_LAG" ] || exit 1
exit 0
