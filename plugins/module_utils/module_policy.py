# Copyright: certhygiene developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The policy options of the modules (documented in the ``certhygiene.tls.policy`` doc fragment)."""

from __future__ import annotations

from typing import Any

from .certhygiene.policy import PROFILES

POLICY_ARGS: dict[str, dict[str, Any]] = {
    "profile": {"type": "str", "choices": list(PROFILES)},
    "policy": {"type": "path"},
    "policy_overrides": {"type": "dict"},
}


def load_module_policy(module: Any) -> Any:
    """The policy the module's options select; a bad policy file fails the task with the engine's message."""
    from .certhygiene.policy import PolicyError, load_policy

    params = module.params
    try:
        # discover=False: a module's working folder is not the user's repository.
        return load_policy(
            profile=params["profile"], path=params["policy"], overrides=params["policy_overrides"], discover=False
        )
    except PolicyError as exc:
        module.fail_json(msg=f"policy: {exc}")
        raise  # fail_json exits; this keeps type checkers and readers sure nothing follows
