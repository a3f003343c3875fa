# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m certhygiene``: the ``certhygiene`` command of the pip distribution.

The CLI is looked up only when run as a program, so importing the engine (as Ansible does) never reaches
outside it.
"""

from __future__ import annotations

if __name__ == "__main__":
    import importlib

    importlib.import_module("certhygiene.cli.main").run()
