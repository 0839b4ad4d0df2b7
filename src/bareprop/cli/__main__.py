import sys

from bareprop.cli import main

sys.exit(main())
