"""Brings the product's tables up to date: `python -m deescalate.db.migrate`."""
import sys
from typing import Optional

from deescalate.db.models import Base
from deescalate.db.session import database_url, get_engine


def upgrade(url: Optional[str] = None) -> None:
    """Create or migrate the product's tables in the database at `url`."""
    Base.metadata.create_all(get_engine(url or database_url()))


if __name__ == "__main__":
    upgrade(sys.argv[1] if len(sys.argv) > 1 else None)
    print("database up to date")
