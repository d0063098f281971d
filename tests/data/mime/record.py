#!/usr/bin/env python3
"""Records Dovecot 2.3's answers for the MIME corpus in this directory.

For every NAME.eml: APPEND it to a fresh mailbox of the reference Dovecot
(/work/shared/dovecot-reference, IMAP on 127.0.0.1:20143, user1@example.test/pass),
FETCH the items in ITEMS and run the SEARCH probes in SEARCHES, and write NAME.dovecot:
a sequence of records `KEY\\n<byte length>\\n<bytes>\\n`, where the bytes are the raw
IMAP value Dovecot sent (a literal keeps its `{n}\\r\\n` prefix) or `1`/`0` for whether a
SEARCH probe matched. tests/mime_dovecot.rs reads these files, so it needs no Dovecot.

Usage: tests/data/mime/record.py [host port user password]
ROOST_MIME_CORPUS=DIR records the .eml files of DIR instead (the test reads the same
variable), e.g. for a differential run over generated messages.
"""
import glob
import os
import re
import socket
import sys

HERE = os.environ.get("ROOST_MIME_CORPUS") or os.path.dirname(os.path.abspath(__file__))
HOST, PORT, USER, PASS = (sys.argv[1:5] if len(sys.argv) >= 5
                          else ("127.0.0.1", "20143", "user1@example.test", "pass"))
MAILBOX = "roost-mime-corpus"

ITEMS = [
    "ENVELOPE", "BODYSTRUCTURE", "BODY",
    "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
    "BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]", "BODY.PEEK[HEADER.FIELDS.NOT (FROM SUBJECT TO)]",
    "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BODY.PEEK[2.MIME]", "BODY.PEEK[3]",
    "BODY.PEEK[4]", "BODY.PEEK[1.1]", "BODY.PEEK[1.2]", "BODY.PEEK[2.1]", "BODY.PEEK[2.2]",
    "BODY.PEEK[2.1.MIME]", "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]", "BODY.PEEK[3.HEADER]",
    "BODY.PEEK[3.TEXT]", "BODY.PEEK[3.1]", "BODY.PEEK[1.HEADER]", "BODY.PEEK[2.1.1]",
    "BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]", "BODY.PEEK[2.HEADER.FIELDS.NOT (SUBJECT)]",
]

# (kind, header name or None, needle)
SEARCHES = [
    ("SUBJECT", None, "hello"), ("SUBJECT", None, "café"), ("SUBJECT", None, "lots of folded"),
    ("SUBJECT", None, "menu today"), ("SUBJECT", None, "grüße"),
    ("FROM", None, "alice"), ("FROM", None, "müller"), ("FROM", None, "jörg"),
    ("FROM", None, "example.com"), ("FROM", None, "alice in comment"), ("FROM", None, "missing_domain"),
    ("TO", None, "bob"), ("TO", None, "andré"), ("TO", None, "first.last"), ("TO", None, "\"last, first\""),
    ("CC", None, "friends"), ("CC", None, "carol"), ("BCC", None, "empty group"),
    ("HEADER", "X-Only", ""), ("HEADER", "X-Only", "HEAD"), ("HEADER", "Message-ID", "example.com"),
    ("HEADER", "Content-Type", "format=flowed"),
    ("BODY", None, "quoted text"), ("BODY", None, "grüße"), ("BODY", None, "inner text"),
    ("BODY", None, "café"), ("BODY", None, "html"), ("BODY", None, "attachment"),
    ("BODY", None, "line one"), ("TEXT", None, "hello"), ("TEXT", None, "plain inner"),
    ("BODY", None, "PDF-1.4"), ("BODY", None, "hello world"), ("BODY", None, "innermost"),
    ("BODY", None, "Content-Type"), ("BODY", None, "plain inner"), ("TEXT", None, "text/plain"),
    ("BODY", None, "Latin1 byte"), ("BODY", None, "page"), ("SUBJECT", None, ""),
    ("FROM", None, "orig"), ("TO", None, "undisclosed-recipients"), ("CC", None, "friends: alice"),
    ("FROM", None, "<@route1,@route2:user@example.com>"), ("HEADER", "Subject", "DIGEST"),
    ("TEXT", None, "U3ViamVjdDo"), ("BODY", None, "epilogue"), ("BODY", None, "preamble"),
]


class Imap:
    def __init__(self):
        self.s = socket.create_connection((HOST, int(PORT)))
        self.buf = b""
        self.n = 0
        self.line()  # greeting

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def line(self):
        """One response line with its literals inlined."""
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self.fill()
            i = self.buf.index(b"\r\n") + 2
            part, self.buf = self.buf[:i], self.buf[i:]
            out += part
            m = re.search(rb"\{(\d+)\}\r\n$", part)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self.fill()
            out += self.buf[:n]
            self.buf = self.buf[n:]

    def cmd(self, *pieces):
        """Sends a command (pieces: bytes, or ('lit', bytes) for a LITERAL+ literal)."""
        self.n += 1
        tag = b"r%d" % self.n
        data = tag + b" "
        for p in pieces:
            if isinstance(p, tuple):
                data += b"{%d+}\r\n" % len(p[1]) + p[1]
            else:
                data += p
        self.s.sendall(data + b"\r\n")
        lines = []
        while True:
            l = self.line()
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise RuntimeError(l)
                return lines
            lines.append(l)


def fetch_value(line, item):
    m = re.match(rb"\* \d+ FETCH \(", line)
    rest = line[m.end():]
    if item.startswith("BODY.PEEK["):
        rest = rest[rest.index(b"]") + 2:]
    else:
        rest = rest[len(item) + 1:]
    assert rest.endswith(b")\r\n"), rest[-20:]
    return rest[:-3]


def main():
    emls = sorted(glob.glob(os.path.join(HERE, "*.eml")))
    c = Imap()
    c.cmd(b"LOGIN ", USER.encode(), b" ", PASS.encode())
    try:
        c.cmd(b"DELETE " + MAILBOX.encode())
    except RuntimeError:
        pass
    c.cmd(b"CREATE " + MAILBOX.encode())
    for path in emls:
        c.cmd(b"APPEND " + MAILBOX.encode() + b" ", ("lit", open(path, "rb").read()))
    c.cmd(b"SELECT " + MAILBOX.encode())
    records = {p: [] for p in emls}
    for seq, path in enumerate(emls, 1):
        for item in ITEMS:
            lines = [l for l in c.cmd(b"FETCH %d (%s)" % (seq, item.encode())) if b" FETCH " in l]
            assert len(lines) == 1, lines
            records[path].append((item, fetch_value(lines[0], item)))
    for kind, name, needle in SEARCHES:
        pieces = [b"SEARCH CHARSET UTF-8 ", kind.encode(), b" "]
        if name:
            pieces += [name.encode(), b" "]
        pieces.append(("lit", needle.encode()))
        hits = set()
        for l in c.cmd(*pieces):
            if l.startswith(b"* SEARCH"):
                hits.update(int(x) for x in l.split()[2:])
        key = "SEARCH %s%s %s" % (kind, " " + name if name else "", needle)
        for seq, path in enumerate(emls, 1):
            records[path].append((key, b"1" if seq in hits else b"0"))
    c.cmd(b"LOGOUT")
    for path, recs in records.items():
        with open(path[:-4] + ".dovecot", "wb") as f:
            for k, v in recs:
                f.write(k.encode() + b"\n" + str(len(v)).encode() + b"\n" + v + b"\n")
    print("recorded %d messages" % len(emls))


if __name__ == "__main__":
    main()
