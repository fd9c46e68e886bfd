"""psycopg_pool behaviour the outage rule needs (R-225) with `DB_POOL=true`."""


def grow_again(pool) -> None:
    """`reconnect_failed` callback. After `reconnect_timeout` of refused attempts psycopg_pool gives
    up growing and only grows again when a client *starts* waiting; a request already waiting then
    sleeps through its whole timeout even though the database came back meanwhile, and answers 503.
    `check()` (public API) lets the pool grow again at once — during an outage that is one refused
    connection attempt per reconnect_timeout — and tests the idle connections, of which an outage
    leaves none."""
    if not pool.closed:
        pool.check()
