"""Bundles every door that splits or completes a chain is tried on, with the one outcome they must all give.

- a leaf issued directly by a self-signed CA (the seed's own layout): that CA is the chain;
- leaf + intermediate + root, in every order (and with a duplicate and text between the blocks);
- cross-signed: the intermediate's issuer is a cross-certificate (the new root's key, signed by the old
  root), with and without the old root.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from support.pki import Issued, issue, key, pem, three_level


@dataclass
class Case:
    bundle: bytes
    leaf: Issued
    chain: list[Issued]  # what the chain file must hold, in this order
    root: Issued | None  # what a root output must hold (None: no root in the bundle)
    notes: list[str] = field(default_factory=list)


def chain_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    ca = issue("Direct CA", private_key=key("rsa", 2048, 40), ca=True)
    direct = issue("direct.example.com", issuer=ca, private_key=key("rsa", 2048, 41), dns=("direct.example.com",))
    cases["leaf-ca"] = Case(pem(direct, ca), direct, [ca], ca)
    cases["ca-leaf"] = Case(pem(ca, direct), direct, [ca], ca)

    pki = three_level()
    parts = {"leaf": pki.leaf, "int": pki.intermediate, "root": pki.root}
    for order in itertools.permutations(parts):
        bundle = pem(*(parts[n] for n in order))
        cases["-".join(order)] = Case(bundle, pki.leaf, [pki.intermediate], pki.root)
    cases["noisy"] = Case(
        b"Bag Attributes\n" + pem(pki.root) + b"subject=...\n" + pem(pki.leaf, pki.intermediate, pki.leaf),
        pki.leaf,
        [pki.intermediate],
        pki.root,
    )

    old_root = issue("XS Old Root", private_key=key("rsa", 2048, 42), ca=True)
    new_key = key("rsa", 2048, 43)
    new_root = issue("XS New Root", private_key=new_key, ca=True)
    cross = issue("XS New Root", issuer=old_root, private_key=new_key, ca=True)
    inter = issue("XS Int", issuer=new_root, private_key=key("rsa", 2048, 44), ca=True, path_length=0)
    leaf = issue("cross.example.com", issuer=inter, private_key=key("rsa", 2048, 45), dns=("cross.example.com",))
    cases["cross-old-root"] = Case(pem(old_root, cross, leaf, inter), leaf, [inter, cross], old_root)
    cases["cross-no-root"] = Case(pem(inter, leaf, cross), leaf, [inter, cross], None)
    return cases
