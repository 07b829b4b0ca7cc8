"""PostgreSQL access: the asyncpg pool, plain-SQL migrations and one module of queries per table.

Functions take an ``Executor`` (a pool or a connection) so the caller decides the transaction.
Rows leave this package as frozen dataclasses.
"""

from db.pool import Executor, open_pool

__all__ = ["Executor", "open_pool"]
