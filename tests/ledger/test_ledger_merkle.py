"""Merkle tree and proofs against RFC 6962 test vectors and a naive recursive reference."""

from __future__ import annotations

import hashlib

import pytest

from misflag.ledger._merkle import (
    EMPTY_ROOT,
    MerkleTree,
    compact_root,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# Leaves and roots of Certificate Transparency's reference tests (RFC 6962 code, trillian testonly).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH written straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_ledger_merkle_matches_certificate_transparency_vectors() -> None:
    tree = MerkleTree([leaf_hash(data) for data in CT_LEAVES])
    assert (
        tree.root(0)
        == EMPTY_ROOT
        == bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    )
    assert [tree.root(size).hex() for size in range(1, 9)] == CT_ROOTS


def test_ledger_merkle_proofs_hold_for_every_index_and_size() -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(37)]
    tree = MerkleTree(leaves)
    wrong = leaf_hash(b"forged")
    for size in range(1, 38):
        root = tree.root(size)
        assert root == reference_root(leaves[:size])
        assert compact_root([], leaves[:size])[0] == root
        for index in range(size):
            path = tree.inclusion_path(index, size)
            assert verify_inclusion(leaves[index], index, size, path, root)
            assert not verify_inclusion(wrong, index, size, path, root)
            assert not verify_inclusion(leaves[index], index, size, path, wrong)
        for first in range(1, size + 1):
            path = tree.consistency_path(first, size)
            assert verify_consistency(first, size, tree.root(first), root, path)
            if first < size:
                assert not verify_consistency(first, size, wrong, root, path)
                assert not verify_consistency(first, size, tree.root(first), wrong, path)


def test_ledger_merkle_frontier_extends_incrementally() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(100)]
    root, frontier = compact_root([], leaves[:41])
    assert root == reference_root(leaves[:41])
    assert compact_root(frontier, leaves[41:])[0] == reference_root(leaves)


def test_ledger_merkle_rejects_impossible_sizes() -> None:
    tree = MerkleTree([leaf_hash(b"a")])
    with pytest.raises(Exception, match="outside"):
        tree.root(2)
    with pytest.raises(Exception, match="no entry"):
        tree.inclusion_path(1, 1)


def test_ledger_merkle_frontier_extends_from_any_size_by_any_count() -> None:
    """The frontier of n leaves extended by k more gives the RFC root of all n + k (computed by the
    reference recursion here) and the very frontier computed from scratch, for every split up to 70."""
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    for first in range(70):
        _, frontier = compact_root([], leaves[:first])
        assert [height for height, _ in frontier] == [h for h in range(7, -1, -1) if first >> h & 1]
        for count in range(70 - first + 1):
            root, extended = compact_root(frontier, leaves[first : first + count])
            assert root == reference_root(leaves[: first + count])
            assert extended == compact_root([], leaves[: first + count])[1]
