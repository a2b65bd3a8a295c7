import sys

from reactkd.cli import main

sys.exit(main())
