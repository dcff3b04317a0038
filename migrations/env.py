"""Alembic environment for the product's tables.

The URL is the one `deescalate.db.migrate.upgrade(url)` passes, else
DATABASE_URL. Rasa's `events` table shares the database but is Rasa's own:
autogenerate neither creates nor drops it. Logging is left as the host
process configured it (migrations also run inside the servers).
"""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from deescalate.db.models import Base
from deescalate.db.session import database_url

config = context.config
target_metadata = Base.metadata
PRODUCT_TABLES = set(Base.metadata.tables)


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001, ANN201
    """Only the product's tables are compared and migrated."""
    if type_ == "table":
        return name in PRODUCT_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name in PRODUCT_TABLES


def url() -> str:
    return config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or database_url()


def configure(**kwargs) -> None:  # noqa: ANN003
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_offline() -> None:
    configure(url=url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url(), poolclass=NullPool, future=True)
    with engine.connect() as connection:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
