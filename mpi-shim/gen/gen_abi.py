#!/usr/bin/env python3
"""Generates what the MPI shim (libfmi_mpi.so) takes from MPICH's headers.

    python3 mpi-shim/gen/gen_abi.py [--mpich-include DIR]

reads MPICH's mpi.h, mpi_proto.h and mpio.h (default: Debian's
/usr/include/x86_64-linux-gnu/mpich, or $MPICH_INCLUDE) and writes

  mpi-shim/src/stubs.rs     every MPI function of MPICH's ABI that the shim does not
                            implement, exported as MPI_x and PMPI_x, failing through
                            the error handler; and the data objects mpi.h declares
                            `extern`.
  mpi-shim/include/mpi.h    the shim's own header: MPICH's, without its attribute
                            macros, C++ bindings, QMPI and identity macros.

Functions the shim implements are found in mpi-shim/src/**/*.rs (stubs.rs aside):
`fn MPI_x / PMPI_x (...)` (the `mpi!` macro) or a hand-written
`pub unsafe extern "C" fn MPI_x`. A function that returns something other than
`int` cannot be stubbed (the stub returns an error code): the generator fails and
lists them, unless --allow-missing-nonint (then they are left out, with a warning).

Used by scripts/mpi-abi-check.sh:
  --check-program FILE      write the C program that prints MPICH's constants and
                            type layouts (compiled once against each header)
  --list-exports            print the symbols libfmi_mpi.so must export
  --compare-protos A B      compare the MPI function declarations of two
                            preprocessed (gcc -E) headers
  --check                   fail if the generated files are not up to date

Python 3 standard library only; the output does not depend on the machine.
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.dirname(HERE)
ROOT = os.path.dirname(SHIM)
DEFAULT_INCLUDE = "/usr/include/x86_64-linux-gnu/mpich"
STUBS_RS = os.path.join(SHIM, "src", "stubs.rs")
MPI_H = os.path.join(SHIM, "include", "mpi.h")

# What the compiler that reads mpi.h defines (gcc, C17, x86_64 Linux): enough for
# the conditionals of MPICH's headers. C++ (__cplusplus) is not defined: the
# prototypes and constants are the same for C++.
PREDEFINED = {
    "__STDC__": "1",
    "__STDC_VERSION__": "201710L",
    "__x86_64__": "1",
    "__linux__": "1",
    "__GNUC__": "12",
}

# MPICH's COPYRIGHT (the notice its license asks to keep in derived works).
MPICH_COPYRIGHT = """\
                             COPYRIGHT

The following is a notice of limited availability of the code, and disclaimer
which must be included in the prologue of the code and in all source listings
of the code.

Copyright Notice
 + 2002 University of Chicago

Permission is hereby granted to use, reproduce, prepare derivative works, and
to redistribute to others.  This software was authored by:

Argonne National Laboratory Group
W. Gropp: (630) 252-4318; FAX: (630) 252-5986; e-mail: gropp@mcs.anl.gov
E. Lusk:  (630) 252-7852; FAX: (630) 252-5986; e-mail: lusk@mcs.anl.gov
Mathematics and Computer Science Division
Argonne National Laboratory, Argonne IL 60439


                      GOVERNMENT LICENSE

Portions of this material resulted from work developed under a U.S.
Government Contract and are subject to the following license: the Government
is granted for itself and others acting on its behalf a paid-up, nonexclusive,
irrevocable worldwide license in this computer software to reproduce, prepare
derivative works, and perform publicly and display publicly.

                              DISCLAIMER

This computer code material was prepared, in part, as an account of work
sponsored by an agency of the United States Government.  Neither the United
States, nor the University of Chicago, nor any of their employees, makes any
warranty express or implied, or assumes any legal liability or responsibility
for the accuracy, completeness, or usefulness of any information, apparatus,
product, or process disclosed, or represents that its use would not infringe
privately owned rights.

Portions of this code were written by Microsoft. Those portions are
Copyright (c) 2007 Microsoft Corporation. Microsoft grants permission to
use, reproduce, prepare derivative works, and to redistribute to
others. The code is licensed "as is." The User bears the risk of using
it. Microsoft gives no express warranties, guarantees or
conditions. To the extent permitted by law, Microsoft excludes the
implied warranties of merchantability, fitness for a particular
purpose and non-infringement."""

# Attribute macros of MPICH's headers: removed from the shim's header.
ATTR_TOKENS = re.compile(
    r"\s*\b(?:MPICH_API_PUBLIC|ROMIO_API_PUBLIC|MPIU_DLL_SPEC)\b"
    r"|\s*\bMPICH_ATTR_\w+\s*\([^()]*\)"
)
# MPICH's identity macros: not defined by the shim's header (see IDENTITY_COMMENT).
IDENTITY_MACROS = {"MPICH", "MPICH_NAME", "MPICH_VERSION", "MPICH_NUMVERSION", "ROMIO_VERSION"}

# The objects MPICH's mpi.h declares `extern`, as the shim defines them (stubs.rs):
# name -> (C declaration in mpi.h, normalised; Rust definition). Pointers point to
# private objects of their own, so each has its own address, as in MPICH.
DATA_OBJECTS = {
    "MPI_UNWEIGHTED": (
        "extern int * const MPI_UNWEIGHTED;",
        "pub static MPI_UNWEIGHTED: CPtr<c_int> = CPtr(&raw const UNWEIGHTED as *mut c_int);",
    ),
    "MPI_WEIGHTS_EMPTY": (
        "extern int * const MPI_WEIGHTS_EMPTY;",
        "pub static MPI_WEIGHTS_EMPTY: CPtr<c_int> = CPtr(&raw const WEIGHTS_EMPTY as *mut c_int);",
    ),
    "MPI_T_PVAR_ALL_HANDLES": (
        "extern struct MPIR_T_pvar_handle_s * const MPI_T_PVAR_ALL_HANDLES;",
        "pub static MPI_T_PVAR_ALL_HANDLES: CPtr<c_void> =\n"
        "    CPtr(&raw const PVAR_ALL_HANDLES as *mut c_void);",
    ),
    "MPI_F_STATUS_IGNORE": (
        "extern MPI_Fint * MPI_F_STATUS_IGNORE;",
        "pub static mut MPI_F_STATUS_IGNORE: *mut c_int = &raw mut F_STATUS_IGNORE as *mut c_int;",
    ),
    "MPI_F_STATUSES_IGNORE": (
        "extern MPI_Fint * MPI_F_STATUSES_IGNORE;",
        "pub static mut MPI_F_STATUSES_IGNORE: *mut c_int = &raw mut F_STATUSES_IGNORE as *mut c_int;",
    ),
    "MPIR_F08_MPI_STATUS_IGNORE_OBJ": (
        "extern MPI_F08_status MPIR_F08_MPI_STATUS_IGNORE_OBJ;",
        "pub static mut MPIR_F08_MPI_STATUS_IGNORE_OBJ: MPI_F08_status = [0; 5];",
    ),
    "MPIR_F08_MPI_STATUSES_IGNORE_OBJ": (
        "extern MPI_F08_status MPIR_F08_MPI_STATUSES_IGNORE_OBJ[1];",
        "pub static mut MPIR_F08_MPI_STATUSES_IGNORE_OBJ: [MPI_F08_status; 1] = [[0; 5]];",
    ),
    "MPIR_F08_MPI_IN_PLACE": (
        "extern int MPIR_F08_MPI_IN_PLACE;",
        "pub static mut MPIR_F08_MPI_IN_PLACE: c_int = 0;",
    ),
    "MPIR_F08_MPI_BOTTOM": (
        "extern int MPIR_F08_MPI_BOTTOM;",
        "pub static mut MPIR_F08_MPI_BOTTOM: c_int = 0;",
    ),
    "MPI_F08_STATUS_IGNORE": (
        "extern MPI_F08_status *MPI_F08_STATUS_IGNORE;",
        "pub static mut MPI_F08_STATUS_IGNORE: *mut MPI_F08_status =\n"
        "    &raw mut MPIR_F08_MPI_STATUS_IGNORE_OBJ;",
    ),
    "MPI_F08_STATUSES_IGNORE": (
        "extern MPI_F08_status *MPI_F08_STATUSES_IGNORE;",
        "pub static mut MPI_F08_STATUSES_IGNORE: *mut MPI_F08_status =\n"
        "    &raw mut MPIR_F08_MPI_STATUSES_IGNORE_OBJ as *mut MPI_F08_status;",
    ),
}

# MPI_DUP_FN (mpi_proto.h's `int MPI_DUP_FN(...)`, with mpi.h's
# `#define MPI_DUP_FN MPIR_Dup_fn`) is the predefined attribute copy callback behind
# MPI_COMM_DUP_FN, MPI_TYPE_DUP_FN and MPI_WIN_DUP_FN: a program passes its address,
# and the shim calls it when it copies attributes. It cannot fail, so it is
# defined here (as MPICH does) unless the shim implements it.
DUP_FN_RS = """\
/// `MPI_DUP_FN` (`#define MPI_DUP_FN MPIR_Dup_fn`), behind `MPI_COMM_DUP_FN`,
/// `MPI_TYPE_DUP_FN` and `MPI_WIN_DUP_FN`: the attribute copy callback that copies
/// the attribute value to the new object, as MPICH's.
#[no_mangle]
pub unsafe extern "C" fn MPIR_Dup_fn(
    _oldcomm: MPI_Comm,
    _keyval: c_int,
    _extra_state: *mut c_void,
    attribute_val_in: *mut c_void,
    attribute_val_out: *mut c_void,
    flag: *mut c_int,
) -> c_int {
    *(attribute_val_out as *mut *mut c_void) = attribute_val_in;
    *flag = 1;
    0 // MPI_SUCCESS
}
"""


def die(msg):
    sys.stderr.write("gen_abi.py: " + msg.rstrip() + "\n")
    sys.exit(1)


def warn(msg):
    sys.stderr.write("gen_abi.py: warning: " + msg.rstrip() + "\n")


# ---------------------------------------------------------------------------
# Reading C headers: items (preprocessor lines, comments, blank lines, code
# statements) with their original text, and a small preprocessor for the
# conditionals.


def scan_comments(line, in_comment):
    """The code of `line` without comments, and whether a /* comment is still open
    at its end."""
    out = []
    i = 0
    n = len(line)
    in_str = None
    while i < n:
        if in_comment:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out), True
            i = j + 2
            in_comment = False
            out.append(" ")
            continue
        c = line[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(line[i + 1])
                i += 2
                continue
            if c == in_str:
                in_str = None
            i += 1
            continue
        if c in "\"'":
            in_str = c
            out.append(c)
            i += 1
            continue
        if line.startswith("/*", i):
            in_comment = True
            i += 2
            continue
        if line.startswith("//", i):
            break
        out.append(c)
        i += 1
    return "".join(out), in_comment


class Item:
    def __init__(self, kind, lines, code):
        self.kind = kind  # "pp", "comment", "blank", "code"
        self.lines = lines  # original text
        self.code = code  # text without comments, continuations joined, one line
        self.directive = None
        self.rest = None
        if kind == "pp":
            m = re.match(r"\s*#\s*(\w*)\s*(.*)$", code)
            self.directive = m.group(1)
            self.rest = m.group(2).strip()

    @property
    def text(self):
        return "\n".join(self.lines)


def read_items(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    items = []
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if not s:
            items.append(Item("blank", [line], ""))
            i += 1
            continue
        if s.startswith("#"):
            chunk = [line]
            code, open_c = scan_comments(line, False)
            while (line.rstrip().endswith("\\") or open_c) and i + 1 < len(lines):
                i += 1
                line = lines[i]
                chunk.append(line)
                more, open_c = scan_comments(line, open_c)
                code = code.rstrip()
                if code.endswith("\\"):
                    code = code[:-1]
                code += " " + more
            items.append(Item("pp", chunk, " ".join(code.split())))
            i += 1
            continue
        if s.startswith("/*"):
            chunk = [line]
            code, open_c = scan_comments(line, False)
            while open_c:
                i += 1
                chunk.append(lines[i])
                more, open_c = scan_comments(lines[i], open_c)
                code += more
            if code.strip():
                die(f"{path}:{i + 1}: code after a comment on the same line is not handled")
            items.append(Item("comment", chunk, ""))
            i += 1
            continue
        # Code: up to the line that ends the statement (`;` at depth 0), or a lone
        # `extern "C" {` / `}`.
        chunk = []
        code_parts = []
        depth = 0
        open_c = False
        while True:
            chunk.append(line)
            code, open_c = scan_comments(line, open_c)
            code_parts.append(code)
            depth += code.count("{") + code.count("(") - code.count("}") - code.count(")")
            c = code.strip()
            if len(chunk) == 1 and re.fullmatch(r'extern\s+"C"\s*\{|\}', c):
                depth = 0
                break
            if not open_c and depth <= 0 and c.endswith(";"):
                break
            i += 1
            if i >= len(lines):
                die(f"{path}: unterminated statement: {' '.join(code_parts)[:200]}")
            line = lines[i]
        items.append(Item("code", chunk, " ".join(" ".join(code_parts).split())))
        i += 1
    return items


class Cpp:
    """Just enough of a C preprocessor for MPICH's headers: object-like and
    function-like macro names, conditionals, includes."""

    def __init__(self):
        self.macros = {}  # name -> (params or None, body)
        for k, v in PREDEFINED.items():
            self.macros[k] = (None, v)

    def define(self, rest):
        m = re.match(r"(\w+)(\(([^)]*)\))?\s*(.*)$", rest)
        if not m:
            die(f"cannot parse #define {rest}")
        params = None
        if m.group(2) is not None:
            params = [p.strip() for p in m.group(3).split(",") if p.strip()]
        self.macros[m.group(1)] = (params, m.group(4).strip())

    def expand(self, text, depth=0):
        """Object-like macros of `text`, replaced recursively."""
        if depth > 20:
            return text

        def sub(m):
            name = m.group(0)
            mac = self.macros.get(name)
            if mac is None or mac[0] is not None:
                return name
            return "(" + self.expand(mac[1], depth + 1) + ")" if mac[1] else ""

        return re.sub(r"\b[A-Za-z_]\w*\b", sub, text)

    def eval(self, expr):
        def defined(m):
            return " 1 " if (m.group(1) or m.group(2)) in self.macros else " 0 "

        e = re.sub(r"\bdefined\s*\(\s*(\w+)\s*\)|\bdefined\s+(\w+)", defined, expr)
        if re.search(r"\b\w+\s*\(", e):
            raise ValueError(f"function-like macro in #if {expr}")
        e = self.expand(e)
        e = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", e)
        e = re.sub(r"\b[A-Za-z_]\w*\b", "0", e)  # undefined identifiers are 0
        e = e.replace("&&", " and ").replace("||", " or ")
        e = re.sub(r"!(?!=)", " not ", e)
        try:
            return bool(eval(e, {"__builtins__": {}}, {}))
        except Exception as ex:  # noqa: BLE001
            raise ValueError(f"cannot evaluate #if {expr}: {ex}")


class Conditionals:
    """Tracks #if/#else/#endif; `active` says whether the text is compiled."""

    def __init__(self, cpp):
        self.cpp = cpp
        self.stack = []  # (parent active, a branch was taken, this branch active)

    @property
    def active(self):
        return not self.stack or self.stack[-1][2]

    def handle(self, item):
        """Updates the state for a conditional directive; True if it was one."""
        d, rest = item.directive, item.rest
        if d in ("if", "ifdef", "ifndef"):
            parent = self.active
            if not parent:
                self.stack.append((False, True, False))
                return True
            if d == "ifdef":
                v = rest.split()[0] in self.cpp.macros
            elif d == "ifndef":
                v = rest.split()[0] not in self.cpp.macros
            else:
                v = self.cpp.eval(rest)
            self.stack.append((True, v, v))
            return True
        if d == "elif":
            parent, taken, _ = self.stack.pop()
            v = parent and not taken and self.cpp.eval(rest)
            self.stack.append((parent, taken or v, v))
            return True
        if d == "else":
            parent, taken, _ = self.stack.pop()
            self.stack.append((parent, True, parent and not taken))
            return True
        if d == "endif":
            self.stack.pop()
            return True
        return False


# ---------------------------------------------------------------------------
# Declarations


def split_top(s, sep=","):
    """Splits `s` at `sep` outside parentheses, brackets and braces."""
    parts, depth, cur = [], 0, []
    for c in s:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def strip_attrs(s):
    return " ".join(ATTR_TOKENS.sub("", s).split())


def tidy_param(p):
    p = " ".join(p.split())
    p = re.sub(r"\(\s+", "(", p)
    p = re.sub(r"\s+\)", ")", p)
    p = re.sub(r"\s+\[", "[", p)
    return p


class Func:
    def __init__(self, ret, name, params, origin):
        self.ret = ret
        self.name = name  # as written (MPI_DUP_FN)
        self.symbol = name  # after macro expansion (MPIR_Dup_fn)
        self.params = params  # tidied text of each parameter
        self.origin = origin
        self.variadic = bool(params) and params[-1] == "..."

    def decl(self, width=100):
        """The declaration, wrapped at `width` columns (continuations aligned)."""
        head = f"{self.ret} {self.name}("
        params = self.params if self.params else ["void"]
        one = head + ", ".join(params) + ");"
        if len(one) <= width:
            return one
        indent = len(head) if len(head) <= 40 else 4
        lines, cur = [], head
        for i, p in enumerate(params):
            piece = p + (");" if i == len(params) - 1 else ",")
            if cur.strip() and cur != head and len(cur) + 1 + len(piece) > width:
                lines.append(cur)
                cur = " " * indent + piece
            elif cur == head:
                cur = head + piece if indent == len(head) or len(head + piece) <= width else cur
                if cur == head:
                    lines.append(head.rstrip())
                    cur = " " * indent + piece
            else:
                cur += " " + piece
        lines.append(cur)
        return "\n".join(lines)


def parse_func(code, origin, strict=True):
    """A Func if `code` (comment-free statement) declares a function. `strict`:
    text after the parameter list (other than attribute macros) is an error."""
    s = strip_attrs(code)
    if not s.endswith(";") or re.match(r"(typedef|extern|enum|struct|static|union)\b", s):
        return None
    m = re.match(r"([A-Za-z_][\w\s\*]*?)\s*\b([A-Za-z_]\w*)\s*\(", s)
    if not m:
        return None
    start = m.end() - 1
    depth = 0
    for j in range(start, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                break
    inner = s[start + 1 : j]
    after = s[j + 1 :].strip()
    if after != ";":
        if not strict:
            return None
        die(f"unexpected text after the declaration of {m.group(2)}: {after!r}")
    params = [tidy_param(p) for p in split_top(inner)] if inner.strip() else []
    if params == ["void"]:
        params = []
    return Func(" ".join(m.group(1).split()), m.group(2), params, origin)


class Mpich:
    """Everything gen_abi.py takes from MPICH's headers."""

    def __init__(self, incdir):
        self.incdir = incdir
        self.items = {}
        for f in ("mpi.h", "mpi_proto.h", "mpio.h"):
            p = os.path.join(incdir, f)
            if not os.path.exists(p):
                die(f"{p} not found (MPICH's headers; --mpich-include DIR or $MPICH_INCLUDE)")
            self.items[f] = read_items(p)
        self.cpp = Cpp()
        self.funcs = []  # every function declared (C compilation), in order
        self.defines = []  # (name, file) of MPI_/MPIX_ macros defined, in order
        self.enum_consts = []  # MPI_/MPIX_ enumerators of mpi.h / mpio.h
        self.typedefs = {}  # name -> definition (normalised code)
        self.externs = {}  # name -> normalised declaration
        self.structs = {}  # typedef name -> [field names]
        self.mpio_state = None  # Cpp macros where mpi.h includes mpio.h
        self._walk("mpi.h")
        self.version = self.cpp.macros.get("MPICH_VERSION", (None, '"?"'))[1].strip('"')
        for f in self.funcs:
            body = self.cpp.macros.get(f.name)
            if body and body[0] is None and re.fullmatch(r"[A-Za-z_]\w*", body[1]):
                f.symbol = body[1]

    def _walk(self, fname, cond=None):
        cond = cond or Conditionals(self.cpp)
        depth0 = len(cond.stack)
        for it in self.items[fname]:
            if it.kind == "pp":
                if cond.handle(it):
                    continue
                if not cond.active:
                    continue
                if it.directive == "define":
                    self.cpp.define(it.rest)
                    name = it.rest.split("(")[0].split()[0]
                    if re.match(r"MPIX?_", name) and fname != "mpi_proto.h":
                        self.defines.append((name, fname))
                elif it.directive == "undef":
                    self.cpp.macros.pop(it.rest.split()[0], None)
                elif it.directive == "include":
                    inc = it.rest.strip('<>"')
                    if inc in self.items:
                        if inc == "mpio.h":
                            self.mpio_state = dict(self.cpp.macros)
                        self._walk(inc, cond)
                continue
            if it.kind != "code" or not cond.active:
                continue
            self._statement(it.code, fname)
        if len(cond.stack) != depth0:
            die(f"{fname}: unbalanced conditionals")

    def _statement(self, code, fname):
        f = parse_func(code, fname)
        if f:
            self.funcs.append(f)
            return
        s = strip_attrs(code)
        if fname != "mpi_proto.h":
            for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", s):
                for e in split_top(body):
                    n = e.split("=")[0].strip()
                    if re.match(r"MPIX?_\w+$", n):
                        self.enum_consts.append(n)
        if s.startswith("typedef"):
            m = re.search(r"\(\s*\*?\s*(\w+)\s*\)\s*\(.*\)\s*;$", s)  # function type
            if m and not re.search(r"\}\s*\w+\s*;$", s):
                self.typedefs[m.group(1)] = ("function", s)
            else:
                name = re.search(r"(\w+)\s*;$", s).group(1)
                alias = re.fullmatch(r"typedef (\w+) \w+ ?;", s)
                if alias and self.typedefs.get(alias.group(1), ("",))[0] == "function":
                    self.typedefs[name] = ("function", s)
                else:
                    self.typedefs[name] = ("object", s)
                sm = re.match(r"typedef struct\s*\w*\s*\{(.*)\}\s*\w+\s*;$", s)
                if sm:
                    self.structs[name] = [
                        re.search(r"(\w+)\s*$", fld).group(1)
                        for fld in sm.group(1).split(";")
                        if fld.strip()
                    ]
        elif s.startswith("extern") and not s.startswith('extern "C"'):
            name = re.search(r"(\w+)\s*(\[\d*\])?\s*;$", s).group(1)
            self.externs[name] = s

    # -- the API: functions ---------------------------------------------------

    def api(self):
        """{MPI name: Func} of every function a program may call: the MPI_/MPIX_
        declarations (incl. MPI_T_ and mpio.h's); their PMPI_ twins must match."""
        mpi, pmpi = {}, {}
        for f in self.funcs:
            if f.name.startswith("QMPI"):
                continue
            if f.name.startswith("PMPI"):
                pmpi[f.name[1:]] = f
            elif re.match(r"MPIX?_", f.name):
                if f.name in mpi and mpi[f.name].decl() != f.decl():
                    die(f"{f.name} is declared twice, differently")
                mpi[f.name] = f
            else:
                die(f"unexpected function {f.name}")
        for n in sorted(set(pmpi) - set(mpi)):
            die(f"P{n} is declared but {n} is not")
        for n in sorted(set(mpi) - set(pmpi)):
            if mpi[n].symbol == n:
                die(f"{n} is declared but P{n} is not")
        for n, f in mpi.items():
            if n in pmpi and pmpi[n].ret != f.ret:
                die(f"{n} and P{n} return different types")
        return mpi

    def constants(self):
        """[(name, kind)] of the MPI_/MPIX_ constants of mpi.h and mpio.h, kind one
        of int (integer expression or handle or pointer sentinel, printed as
        long long), str, flag (defined empty), macro (function-like), skip
        (a function address, a type or a function alias)."""
        funcs = {f.name for f in self.funcs} | {f.symbol for f in self.funcs}
        seen, out = set(), []
        for name, _ in self.defines:
            if name in seen:
                continue
            seen.add(name)
            params, body = self.cpp.macros.get(name, (None, None))
            if body is None:  # #undef'd later
                continue
            if params is not None:
                kind = "macro"
            elif body == "":
                kind = "flag"
            elif body.startswith('"'):
                kind = "str"
            else:
                idents = set(re.findall(r"\b[A-Za-z_]\w*\b", self.cpp.expand(body)))
                if idents & funcs:
                    kind = "skip"  # function (address): differs from program to program
                elif re.fullmatch(r"\w+", body) and body in self.typedefs:
                    kind = "skip"  # a type
                else:
                    kind = "int"
            out.append((name, kind))
        for n in self.enum_consts:
            if n not in seen:
                seen.add(n)
                out.append((n, "int"))
        return out


# ---------------------------------------------------------------------------
# The shim's Rust sources: which functions it implements.


def implemented_symbols():
    found = {}
    for d, _, files in os.walk(os.path.join(SHIM, "src")):
        for fn in sorted(files):
            p = os.path.join(d, fn)
            if not fn.endswith(".rs") or os.path.abspath(p) == os.path.abspath(STUBS_RS):
                continue
            with open(p, encoding="utf-8") as f:
                text = "\n".join(line.split("//")[0] for line in f.read().split("\n"))
            rel = os.path.relpath(p, ROOT)
            for m in re.finditer(r"\bfn\s+(MPIX?_\w+)\s*/\s*(PMPIX?_\w+)", text):
                found.setdefault(m.group(1), rel)
                found.setdefault(m.group(2), rel)
            for m in re.finditer(r'\bextern\s+"C"\s+fn\s+(P?MPI[XR]?_\w+)', text):
                found.setdefault(m.group(1), rel)
    return found


# ---------------------------------------------------------------------------
# stubs.rs

FLOAT_WORDS = {"float", "double"}


def comm_position(f, int_types):
    """Index of the first by-value MPI_Comm parameter of `f` if every parameter
    before it is passed in an integer register or stack slot, else None."""

    def words(p):
        toks = re.findall(r"[A-Za-z_]\w*|\*|\[", p)
        pointer = "*" in toks or "[" in toks
        return pointer, [t for t in toks if t not in ("const", "volatile", "*", "[")]

    pos = None
    for i, p in enumerate(f.params):
        pointer, w = words(p)
        if not pointer and w and w[0] == "MPI_Comm":
            pos = i
            break
    if pos is None:
        return None
    for p in f.params[:pos]:
        pointer, w = words(p)
        if pointer:
            continue
        if FLOAT_WORDS & set(w):
            return None
        base = w[0] if w else ""
        if base in ("int", "long", "unsigned", "short", "char", "enum") or base in int_types:
            continue
        warn(f"{f.name}: parameter {p!r} of unknown class before the communicator")
        return None
    return pos


def integer_typedefs(m):
    """Typedef names that are integers, enums or pointers (integer class)."""
    out = set()
    for name, (kind, s) in m.typedefs.items():
        if kind == "function":  # a function parameter is a pointer
            out.add(name)
        elif "*" in s or re.match(r"typedef (enum|int|long|unsigned|short|char)\b", s):
            out.add(name)
    return out


def gen_stubs(m, allow_missing_nonint):
    api = m.api()
    impl = implemented_symbols()
    int_types = integer_typedefs(m)
    lines, stubbed, implemented, nonint, partial = [], [], [], [], []
    dup_fn = None
    for name in sorted(api):
        f = api[name]
        if f.symbol != name:  # MPI_DUP_FN -> MPIR_Dup_fn
            dup_fn = f
            continue
        syms = [name, "P" + name]
        missing = [s for s in syms if s not in impl]
        if not missing:
            implemented.append(name)
            continue
        if f.variadic:
            warn(f"{name} is variadic: the shim must implement it (not stubbed)")
            continue
        if f.ret != "int":
            nonint.append(f)
            continue
        if len(missing) == 1:
            partial.append(missing[0])
        stubbed.append(name)
        pos = comm_position(f, int_types)
        args = "" if pos is None else " [" + ", ".join(["_"] * pos) + "] comm"
        if missing == syms:
            lines.append(f"stub!({name} / P{name}{args});")
        else:
            lines.append(f"stub!(@fn {name} {missing[0]}{args});")
    if nonint:
        msg = "these functions return something other than int, so they cannot be stubbed;\n"
        msg += "the shim must implement them (as MPI_x and PMPI_x):\n"
        msg += "".join(f"    {f.ret} {f.name}({', '.join(f.params) or 'void'})\n" for f in nonint)
        if not allow_missing_nonint:
            die(msg + "(--allow-missing-nonint leaves them out, for a build in progress)")
        warn(msg + "left out (--allow-missing-nonint)")
    for n in sorted(set(impl) - {s for f in api.values() for s in (f.name, "P" + f.name, f.symbol)}):
        warn(f"{impl[n]} defines {n}, which MPICH's headers do not declare")
    if sorted(m.externs) != sorted(DATA_OBJECTS):
        die(
            "mpi.h's extern objects changed: header has "
            + ", ".join(sorted(m.externs))
            + "; gen_abi.py knows "
            + ", ".join(sorted(DATA_OBJECTS))
        )
    for n, (decl, _) in DATA_OBJECTS.items():
        if " ".join(m.externs[n].split()) != decl:
            die(f"mpi.h declares {m.externs[n]!r}, gen_abi.py expects {decl!r}")

    out = []
    out.append(
        f"""\
//! Generated by mpi-shim/gen/gen_abi.py from MPICH {m.version}'s headers; do not edit.
//! `python3 mpi-shim/gen/gen_abi.py` regenerates it (after a function is
//! implemented elsewhere in the crate, for instance).
//!
//! Every function of MPICH's ABI that the shim does not implement, exported as
//! `MPI_x` and `PMPI_x`: it fails through the error handler (`errors::unsupported`)
//! of its communicator argument if it has one, else of `MPI_COMM_WORLD`; it never
//! falls through to another MPI library. And the data objects `mpi.h` declares
//! `extern`, which programs built against MPICH's or the shim's header link to.
//!
//! {len(stubbed)} functions stubbed here; {len(implemented)} implemented by the shim.

use crate::abi::MPI_Comm;
use crate::errors::unsupported;
use std::ffi::{{c_int, c_void}};

/// `stub!(MPI_x / PMPI_x)` defines both, failing on `MPI_COMM_WORLD`.
/// `stub!(MPI_x / PMPI_x [_, _] comm)`: the communicator is the third argument, after
/// two arguments passed in integer registers or stack slots (`usize` covers every
/// integer and pointer argument on x86_64); the failure goes to its error handler.
/// `stub!(@fn MPI_x PMPI_x ...)` defines one symbol (the other is implemented).
macro_rules! stub {{
    ($name:ident / $pname:ident $($rest:tt)*) => {{
        stub!(@fn $name $name $($rest)*);
        stub!(@fn $name $pname $($rest)*);
    }};
    (@fn $name:ident $sym:ident) => {{
        #[no_mangle]
        pub unsafe extern "C" fn $sym() -> c_int {{
            unsupported(stringify!($name), None)
        }}
    }};
    (@fn $name:ident $sym:ident [$($skip:tt),*] comm) => {{
        #[no_mangle]
        pub unsafe extern "C" fn $sym($($skip: usize,)* comm: MPI_Comm) -> c_int {{
            unsupported(stringify!($name), Some(comm))
        }}
    }};
}}
"""
    )
    out.append("\n" + "\n".join(lines) + "\n")
    if dup_fn is not None and dup_fn.symbol not in impl:
        out.append("\n" + DUP_FN_RS)
    out.append(
        """
// The objects mpi.h declares `extern`. The pointers point to private objects, each
// with an address of its own, as MPICH's do; the shim compares an argument with
// the pointer's value (`MPI_UNWEIGHTED.get()`), which is the same in a program's
// copy of the variable.

/// A constant pointer exported as a C object (`extern T *const NAME`).
#[repr(transparent)]
pub struct CPtr<T>(*mut T);

// SAFETY: the pointer is a constant address, never dereferenced through `CPtr`.
unsafe impl<T> Sync for CPtr<T> {}

impl<T> CPtr<T> {
    /// The pointer, to compare an argument with (`weights == MPI_UNWEIGHTED.get()`).
    #[allow(dead_code)]
    pub const fn get(&self) -> *mut T {
        self.0
    }
}

/// MPICH's `MPI_F08_status`: five `MPI_Fint`s.
pub type MPI_F08_status = [c_int; 5];

static UNWEIGHTED: c_int = 0;
static WEIGHTS_EMPTY: c_int = 0;
static PVAR_ALL_HANDLES: c_int = 0;
static mut F_STATUS_IGNORE: MPI_F08_status = [0; 5];
static mut F_STATUSES_IGNORE: MPI_F08_status = [0; 5];
"""
    )
    for n in sorted(DATA_OBJECTS):
        decl, rs = DATA_OBJECTS[n]
        out.append(f"\n/// `{decl[len('extern ') :]}`\n#[no_mangle]\n{rs}\n")
    info = dict(stubbed=stubbed, implemented=implemented, nonint=nonint, partial=partial)
    return "".join(out), info


def rustfmt(text):
    try:
        p = subprocess.run(
            ["rustfmt", "--edition", "2021", "--emit", "stdout", "--quiet"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,  # the repository's rustfmt configuration, if it gets one
        )
    except FileNotFoundError:
        warn("rustfmt not found: stubs.rs written as generated (should be fmt-clean)")
        return text
    if p.returncode != 0:
        die("rustfmt failed on the generated stubs.rs:\n" + p.stderr)
    return p.stdout


# ---------------------------------------------------------------------------
# mpi.h

IDENTITY_COMMENT = """\
/* FMI's MPI shim (libfmi_mpi.so), not MPICH.

   Programs may test FMI_MPI_SHIM. This header has MPICH's ABI (the values of
   every constant and handle, the types, MPI_Status) and declares every function
   of MPICH's C API, so that a program built against it, or built with MPICH's
   own mpicc, runs on the shim. Functions the shim does not implement fail with
   an error (through the error handler) when called.

   MPICH's identity macros (MPICH, MPICH_NAME, MPICH_VERSION, MPICH_NUMVERSION,
   ROMIO_VERSION) are deliberately not defined: programs test them to apply
   workarounds for MPICH's own behaviour or to use MPICH's extensions and
   ROMIO's I/O hints, none of which is the shim's. MPI_VERSION/MPI_SUBVERSION
   (4.0: the API declared) are defined, as are MPICH's helper macros
   (MPICH_CALC_VERSION, MPICH_RELEASE_TYPE_*, MPICH_HAS_C2F, MPICH_ERR_*), which
   describe this header as well. FMI_MPI_SHIM_MPICH_ABI is the version of MPICH
   whose ABI the shim implements. */
#define FMI_MPI_SHIM 1
#define FMI_MPI_SHIM_MPICH_ABI "{version}\""""


# Comments of MPICH's headers about what the shim's header leaves out.
MPI_H_DROPPED_COMMENTS = (
    "Generated from mpi.h.in",
    "MPIU_DLL_SPEC",
    "For systems that may need to add additional definitions",
    "--Insert Additional Definitions Here--",
)
MPIO_H_DROPPED_COMMENTS = (
    "INDENT-O",
    "user include file",
    "globus2 device",
    "above needed for some versions",
    "info functions if not defined",
    "Open MPI: don't define",
    "Begin Prototypes",
    "End Prototypes",
)


def banner(version):
    cr = "\n".join((" * " + line).rstrip() for line in MPICH_COPYRIGHT.split("\n"))
    return f"""\
/*
 * mpi.h of FMI's MPI shim (libfmi_mpi.so): MPICH's ABI for MPI programs that run
 * on FMI.
 *
 * Generated by mpi-shim/gen/gen_abi.py from MPICH {version}'s mpi.h, mpi_proto.h
 * and mpio.h; do not edit. Derived from MPICH's mpi.h (Copyright (C) by Argonne
 * National Laboratory), without its attribute macros, its C++ bindings (mpicxx.h),
 * its QMPI tool interface and its identity macros; mpio.h and the prototypes are
 * included in this file. MPICH's notice follows, as its license requires.
 *
{cr}
 */"""


def cond_blocks(items):
    """{index of #if: index of its #endif}."""
    out, stack = {}, []
    for i, it in enumerate(items):
        if it.kind != "pp":
            continue
        if it.directive in ("if", "ifdef", "ifndef"):
            stack.append(i)
        elif it.directive == "endif":
            out[stack.pop()] = i
    return out


ATTR_LINE = re.compile(
    r"#\s*(define|undef)\s+(MPICH_ATTR_\w+|MPICH_API_PUBLIC|MPICH_DEFINE_ATTR_TYPE_TYPES)\b"
    r"|#\s*include\s*<stddef\.h>"
    r"|.*\bmpich_\w+"
)


def attribute_only(items, a, b):
    """Whether the conditional block items[a..b] only deals with MPICH's type-tag
    attributes (and its #if only tests for them)."""
    cond = items[a].code
    if re.search(r"MPICH_DEFINE_ATTR_TYPE_TYPES|__has_attribute|HAVE_VISIBILITY", cond):
        return True
    body = [it for it in items[a + 1 : b] if it.kind in ("pp", "code")]
    content = [
        it
        for it in body
        if not (it.kind == "pp" and it.directive in ("if", "ifdef", "ifndef", "elif", "else", "endif"))
    ]
    return bool(content) and all(ATTR_LINE.match(it.code) for it in content)


def gen_header(m):
    api = m.api()
    items = m.items["mpi.h"]
    blocks = cond_blocks(items)
    drop = set()
    for a, b in blocks.items():
        if a in drop:
            continue
        if attribute_only(items, a, b) or "MPICH_SKIP_MPICXX" in items[a].code:
            drop.update(range(a, b + 1))
    out = []
    comments_seen = 0
    qmpi_noted = False

    def emit(text):
        out.append(text)

    for i, it in enumerate(items):
        if i in drop:
            continue
        if it.kind == "comment":
            comments_seen += 1
            t = it.text
            if comments_seen == 1:  # MPICH's copyright line
                emit(banner(m.version))
                continue
            if any(x in t for x in MPI_H_DROPPED_COMMENTS):
                continue
            if "C++ bindings" in t or "MPICH_VERSION is the version string" in t:
                continue
            emit(t)
            continue
        if it.kind == "blank":
            emit("")
            continue
        if it.kind == "pp":
            name = (it.rest.split("(")[0].split() or [""])[0]
            if it.directive == "define" and name == "MPI_INCLUDED":
                emit(it.text)
                emit("")
                emit(IDENTITY_COMMENT.format(version=m.version))
                continue
            if it.directive == "define" and name in IDENTITY_MACROS:
                if name == "MPICH_NAME":
                    emit("/* MPICH, MPICH_NAME, MPICH_VERSION, MPICH_NUMVERSION: not defined (see FMI_MPI_SHIM). */")
                continue
            if (it.directive, name) in (
                ("define", "NO_TAGS_WITH_MODIFIERS"),
                ("undef", "MPICH_DEFINE_ATTR_TYPE_TYPES"),
                ("define", "MPIU_DLL_SPEC"),
            ):
                continue
            if it.directive == "define" and name.startswith("QMPI"):
                continue
            if it.directive == "include" and "mpi_proto.h" in it.rest:
                emit(prototypes(m, "mpi_proto.h"))
                continue
            if it.directive == "include" and "mpio.h" in it.rest:
                emit(mpio_text(m))
                continue
            emit(strip_attr_text(it.text))
            continue
        # code
        if "QMPI" in it.code:
            if not qmpi_noted:
                emit("/* MPICH's QMPI tool interface (QMPI_*) is not part of the shim. */")
                qmpi_noted = True
            continue
        emit(strip_attr_text(it.text))
    text = "\n".join(line.rstrip() for line in "\n".join(out).split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    # Every function of the API is declared, as MPI_x and PMPI_x.
    for n, f in api.items():
        if f.symbol == n and (not re.search(rf"\b{n}\(", text) or not re.search(rf"\bP{n}\(", text)):
            die(f"{n} missing from the generated mpi.h")
    return text.strip("\n") + "\n"


def strip_attr_text(text):
    """Removes MPICH's attribute macros from a declaration, keeping its layout."""
    lines = []
    for line in text.split("\n"):
        new = ATTR_TOKENS.sub("", line)
        if new != line:
            new = re.sub(r"(\S) {2,}(?=\S)", r"\1 ", new).rstrip()
            if not new.strip():
                continue
        lines.append(new)
    out = "\n".join(lines)
    if out.rstrip().endswith("\n;") or re.search(r"\n\s*;\s*$", out):
        out = re.sub(r"\s*\n\s*;\s*$", ";", out)
    return out


def prototypes(m, fname):
    """mpi_proto.h's declarations (QMPI aside), formatted."""
    mpi = [f for f in m.funcs if f.origin == fname and not f.name.startswith(("QMPI", "PMPI"))]
    pmpi = [f for f in m.funcs if f.origin == fname and f.name.startswith("PMPI")]
    out = ["/* The MPI functions (MPICH's mpi_proto.h) */"]
    out += [f.decl() for f in mpi]
    out += ["", "/* The profiling interface: each function again as PMPI_x */"]
    out += [f.decl() for f in pmpi]
    return "\n".join(out)


def mpio_text(m):
    """mpio.h as MPICH's mpi.h includes it: conditionals resolved, attributes,
    extern "C" (mpi.h has it) and ROMIO's identity left out, prototypes formatted."""
    cpp = Cpp()
    cpp.macros = dict(m.mpio_state)
    cond = Conditionals(cpp)
    out = ["/* MPI-IO (MPICH's mpio.h, from ROMIO) */"]
    first_comment = True
    for it in m.items["mpio.h"]:
        if it.kind == "pp" and cond.handle(it):
            continue
        if not cond.active:
            continue
        if it.kind == "blank":
            out.append("")
        elif it.kind == "comment":
            if first_comment:  # copyright line
                first_comment = False
                continue
            if any(x in it.text for x in MPIO_H_DROPPED_COMMENTS):
                continue
            out.append(it.text)
        elif it.kind == "pp":
            name = (it.rest.split("(")[0].split() or [""])[0]
            if it.directive == "include" or name in ("ROMIO_API_PUBLIC",) or name in IDENTITY_MACROS:
                continue
            if it.directive == "define":
                cpp.define(it.rest)
            elif it.directive == "undef":
                cpp.macros.pop(name, None)
            out.append(it.text)
        else:
            f = parse_func(it.code, "mpio.h")
            if f:
                out.append(f.decl())
            elif re.fullmatch(r'extern\s+"C"\s*\{|\}', it.code):
                continue
            else:
                out.append(strip_attr_text(it.text))
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# ---------------------------------------------------------------------------
# For scripts/mpi-abi-check.sh


def check_program(m):
    consts = m.constants()
    out = [
        "/* Generated by mpi-shim/gen/gen_abi.py --check-program: prints MPICH's constants",
        "   and type layouts as the mpi.h it is compiled against has them. */",
        "#include <mpi.h>",
        "#include <stddef.h>",
        "#include <stdio.h>",
        "",
        '#define I(x) printf("%s = %lld\\n", #x, (long long)(x))',
        '#define S(x) printf("%s = \\"%s\\"\\n", #x, x)',
        '#define SZ(t) printf("sizeof(%s) = %zu\\n", #t, sizeof(t))',
        '#define SG(t) printf("signed(%s) = %d\\n", #t, (int)((t)-1 < 0))',
        '#define OFF(t, f) printf("offsetof(%s, %s) = %zu\\n", #t, #f, offsetof(t, f))',
        '#define MISSING(x) printf("%s MISSING\\n", #x)',
        "",
        "int main(void)",
        "{",
    ]
    n = 0
    for name, kind in consts:
        if kind == "skip":
            out.append(f"    /* {name}: a function or a type */")
            continue
        if kind == "int":
            line = f"    I({name});"
        elif kind == "str":
            line = f"    S({name});"
        elif kind == "flag":
            line = f'    puts("{name} defined");'
        else:
            line = f'    puts("{name}() defined");'
        n += 1
        if name in m.enum_consts:
            out.append(line)
        else:
            out += [f"#ifdef {name}", line, "#else", f"    MISSING({name});", "#endif"]
    for name, (kind, s) in sorted(m.typedefs.items()):
        if kind != "object" or not re.match(r"MPIX?_", name):
            continue
        out.append(f"    SZ({name});")
        n += 1
        if re.match(r"typedef (int|long|unsigned|short|char)\b", s):
            out.append(f"    SG({name});")
            n += 1
        for fld in m.structs.get(name, []):
            out.append(f"    OFF({name}, {fld});")
            n += 1
    out += ["    return 0;", "}", ""]
    return "\n".join(out), n


def list_exports(m):
    api = m.api()
    out = []
    for n, f in sorted(api.items()):
        if f.symbol != n:
            out.append(f"F {f.symbol}")
        else:
            out += [f"F {n}", f"F P{n}"]
    out += [f"D {n}" for n in sorted(DATA_OBJECTS)]
    return "\n".join(out) + "\n"


def compare_protos(a, b):
    """Compares the function declarations (MPI_, MPIX_, PMPI_, MPIR_Dup_fn) of two
    preprocessed headers; prints differences; returns the number of functions."""

    def decls(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = "\n".join(l for l in f.read().split("\n") if not l.startswith("#"))
        out = {}
        for st in split_top(text, ";"):
            st = " ".join(st.split())
            func = parse_func(st + ";", path, strict=False) if st else None
            if func and re.match(r"(P?MPIX?_|MPIR_Dup_fn)", func.name):
                toks = re.findall(r"\w+|\.\.\.|\S", f"{func.ret} {func.name}({', '.join(func.params)})")
                out[func.name] = " ".join(toks)
        return out

    da, db = decls(a), decls(b)
    bad = 0
    for n in sorted(set(da) | set(db)):
        if n not in db:
            print(f"only in {a}: {da[n]}")
            bad += 1
        elif n not in da:
            print(f"only in {b}: {db[n]}")
            bad += 1
        elif da[n] != db[n]:
            print(f"differs: {n}\n  {da[n]}\n  {db[n]}")
            bad += 1
    return len(da), bad


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mpich-include", default=os.environ.get("MPICH_INCLUDE", DEFAULT_INCLUDE))
    ap.add_argument("--allow-missing-nonint", action="store_true")
    ap.add_argument("--check-program", metavar="FILE")
    ap.add_argument("--list-exports", action="store_true")
    ap.add_argument("--compare-protos", nargs=2, metavar=("A", "B"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    if args.compare_protos:
        n, bad = compare_protos(*args.compare_protos)
        print(f"{n} function declarations compared, {bad} differences")
        sys.exit(1 if bad or n == 0 else 0)

    m = Mpich(args.mpich_include)
    if args.check_program:
        text, n = check_program(m)
        with open(args.check_program, "w", encoding="utf-8") as f:
            f.write(text)
        print(n)
        return
    if args.list_exports:
        sys.stdout.write(list_exports(m))
        return

    stubs, info = gen_stubs(m, args.allow_missing_nonint)
    stubs = rustfmt(stubs)
    header = gen_header(m)
    stale = []
    for path, text in ((STUBS_RS, stubs), (MPI_H, header)):
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old == text:
            continue
        if args.check:
            stale.append(os.path.relpath(path, ROOT))
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    if args.check:
        if stale:
            die("not up to date (run python3 mpi-shim/gen/gen_abi.py): " + ", ".join(stale))
        print("gen_abi.py: generated files are up to date")
        return
    api = m.api()
    print(
        f"gen_abi.py: MPICH {m.version}: {len(api)} functions in the API; "
        f"{len(info['implemented'])} implemented by the shim, {len(info['stubbed'])} stubbed"
        + (f", {len(info['nonint'])} non-int left out" if info["nonint"] else "")
        + f"; {len(DATA_OBJECTS)} data objects"
    )
    if info["partial"]:
        print("  only one of MPI_x/PMPI_x implemented, the other stubbed: " + ", ".join(info["partial"]))
    print(f"  wrote {os.path.relpath(STUBS_RS, ROOT)}, {os.path.relpath(MPI_H, ROOT)}")


if __name__ == "__main__":
    main()
