import sys

from deescalate.tools.bench.run import main

sys.exit(main())
