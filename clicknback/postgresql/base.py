"""PostgreSQL backend whose per-request health check costs no round trip (issue 7).

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before the first query of every request that reuses
a persistent connection: one statement in five on a short read. Here the check looks at the
socket instead. An idle connection has nothing to read unless the server spoke first, and an idle
server only speaks to say the connection is over (shutdown, restart, pg_terminate_backend,
idle timeout) or by closing it: a readable socket means "reconnect". After a query failed on the
connection, the full `SELECT 1` still decides (Django's close_if_unusable_or_obsolete), so a
broken connection is dropped at the end of the request that met it (R-225)."""

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is None:
            return False
        if self.errors_occurred:
            return super().is_usable()
        if self.connection.closed or self.connection.broken:
            return False
        pgconn = self.connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
