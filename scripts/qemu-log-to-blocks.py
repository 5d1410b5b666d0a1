#!/usr/bin/env python3
"""Turns a `qemu-x86_64 -d exec,nochain,in_asm` log into a block stream file for codec measurements.

Every executed TB ("Trace N: host [cs_base/pc/flags/cflags]") becomes one block id; ids are dense and
assigned in first-execution order of (pc, length) so a retranslation with another length is a new block.
The definition of a TB comes from its last "IN:" disassembly: the exit kind from the mnemonic of its last
instruction, the static target from that instruction's operand.

Output (little endian): b"PXBS", u32 version=1, u32 definition count, u64 executed block count, then per
definition u64 address, u32 length, u8 exit kind (TraceModel.ExitKind raw value), u8 has target,
u64 target; then the block ids as u32.
"""
import re
import struct
import sys

JCC = {"jo", "jno", "jb", "jnae", "jc", "jae", "jnb", "jnc", "je", "jz", "jne", "jnz", "jbe", "jna",
       "ja", "jnbe", "js", "jns", "jp", "jpe", "jnp", "jpo", "jl", "jnge", "jge", "jnl", "jle", "jng",
       "jg", "jnle", "jcxz", "jecxz", "jrcxz", "loop", "loope", "loopz", "loopne", "loopnz"}
PREFIXES = {"bnd", "notrack", "rep", "repz", "repe", "repnz", "repne", "lock", "data16", "addr32"}
SPLIT, JCCK, JMP, CALL, JMPIND, CALLIND, RET, SYSCALL, FAR = range(9)
HEX2 = re.compile(r"^[0-9a-f]{2}$")


def classify(text):
    """(exit kind, static target or None) of the instruction text after the byte column."""
    words = text.split()
    while len(words) > 1 and words[0] in PREFIXES:
        words = words[1:]
    if not words:
        return SPLIT, None
    mnem = words[0]
    operand = words[1] if len(words) > 1 else ""
    # AT&T spells the operand size as a suffix: callq, retq, jmpq, calll.
    base = {"jmpq": "jmp", "jmpl": "jmp", "jmpw": "jmp", "callq": "call", "calll": "call", "callw": "call",
            "retq": "ret", "retl": "ret", "retw": "ret", "retn": "ret"}.get(mnem, mnem)
    def target():
        try:
            return int(operand, 16)
        except ValueError:
            return None
    if mnem in JCC:
        return JCCK, target()
    if base in ("jmp",):
        return (JMPIND, None) if operand.startswith("*") else (JMP, target())
    if base in ("call",):
        return (CALLIND, None) if operand.startswith("*") else (CALL, target())
    if base in ("ret",):
        return RET, None
    if mnem in ("syscall", "sysenter", "int", "int3", "into"):
        return SYSCALL, None
    if mnem in ("ljmp", "ljmpl", "ljmpq", "lcall", "lcalll", "lcallq", "lret", "lretl", "lretq",
                "iret", "iretl", "iretq"):
        return FAR, None
    return SPLIT, None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: qemu-log-to-blocks.py LOG OUT")
    translations = {}  # pc -> (length, kind, target) of the latest translation
    ids = {}           # (pc, length) -> id
    defs = []
    stream = bytearray()
    pending = []       # instruction lines of the "IN:" block being read
    in_block = False
    with open(sys.argv[1], "r", errors="replace") as log:
        for line in log:
            if line.startswith("Trace "):
                pc = int(line.split("[", 1)[1].split("/")[1], 16)
                length, kind, tgt = translations.get(pc, (1, SPLIT, None))
                key = (pc, length)
                bid = ids.get(key)
                if bid is None:
                    bid = len(defs)
                    ids[key] = bid
                    defs.append((pc, length, kind, tgt))
                stream += struct.pack("<I", bid)
            elif line.startswith("IN:"):
                in_block = True
                pending = []
            elif in_block:
                if line.startswith("0x"):
                    pending.append(line)
                elif line.strip() == "":
                    in_block = False
                    if pending:
                        first = int(pending[0].split(":")[0], 16)
                        head, _, rest = pending[-1].partition(":")
                        last = int(head, 16)
                        fields = rest.split()
                        nbytes = 0
                        while nbytes < len(fields) and HEX2.match(fields[nbytes]):
                            nbytes += 1
                        kind, tgt = classify(" ".join(fields[nbytes:]))
                        translations[first] = (last + nbytes - first, kind, tgt)
    with open(sys.argv[2], "wb") as out:
        out.write(b"PXBS" + struct.pack("<IIQ", 1, len(defs), len(stream) // 4))
        for pc, length, kind, tgt in defs:
            out.write(struct.pack("<QIBBQ", pc, length, kind, 0 if tgt is None else 1, tgt or 0))
        out.write(stream)
    print(f"{sys.argv[2]}: {len(defs)} blocks defined, {len(stream) // 4} executed", file=sys.stderr)


if __name__ == "__main__":
    main()
