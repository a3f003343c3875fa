"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test fetches get-pip from a host this machine cannot reach; it looks in
~/.ansible/test/cache first, so scripts/sanity.sh puts this file there. It does
what get-pip does: put pip into the (empty) virtual environment, here from the
wheel that ships with CPython (ensurepip, offline), then `pip install` the
packages ansible-test asked for, from the package index pip is configured with.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null for its own
# run, which would hide the machine's pip configuration (index, certificates).
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
