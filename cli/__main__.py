import sys

from certhygiene.cli.main import main

sys.exit(main())
