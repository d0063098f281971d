//! The on-disk form of roost's mailbox index (`roost.index` in the Maildir folder): the magic
//! `ROOSTIX1`, then framed records `[u32 length][u64 FNV-1a checksum][payload]`, all little
//! endian. The file is an append-only log; readers stop at the first frame that is short or
//! fails its checksum (a torn append), and the next writer cuts that tail off before it
//! appends. Compaction writes the live records to a temp file, fsyncs it and renames it over.

use crate::mail::maildir::Flags;

pub const MAGIC: &[u8; 8] = b"ROOSTIX1";
/// Frame header: length and checksum.
pub const FRAME: usize = 12;
/// No record is larger (a cached BODYSTRUCTURE of a huge message is not cached).
pub const MAX_RECORD: usize = 1 << 20;

/// What the index knows of the folder's directories and uidlist at a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamps {
    /// (inode, size, mtime ns) of new/, cur/ and dovecot-uidlist; zeros when missing.
    pub new: (u64, u64, i64),
    pub cur: (u64, u64, i64),
    pub uidlist: (u64, u64, i64),
}

/// The mailbox-wide record; the last one in the log wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub uid_validity: u32,
    pub next_uid: u32,
    /// UIDs from here on are \Recent for the next read-write session that looks.
    pub first_recent_uid: u32,
    pub highest_modseq: u64,
    /// When the scan these stamps describe started (ns since the epoch).
    pub scan_started: i64,
    pub stamps: Stamps,
    /// Messages still in new/ at that scan.
    pub in_new: u32,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexMsg {
    pub uid: u32,
    pub modseq: u64,
    /// Bytes on disk (LF) and with CRLF line ends (the `S=`/`W=` fields).
    pub size: u64,
    pub vsize: u64,
    /// Internal date: the file's mtime, seconds since the epoch.
    pub date: i64,
    pub in_new: bool,
    /// Current file name (base plus `:2,` info).
    pub name: String,
    /// The uidlist `G` field when it differs from the base name.
    pub guid: String,
}

impl IndexMsg {
    pub fn base(&self) -> &str {
        crate::mail::maildir::filename::split(&self.name).0
    }

    pub fn flags(&self) -> Flags {
        crate::mail::maildir::filename::split(&self.name)
            .1
            .unwrap_or_default()
    }
}

/// What a cache record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Envelope = 1,
    BodyStructure = 2,
    Body = 3,
    /// The header lines named in `CACHED_HEADERS`, ending with the empty line.
    Headers = 4,
}

impl Field {
    fn from_u8(b: u8) -> Option<Field> {
        Some(match b {
            1 => Field::Envelope,
            2 => Field::BodyStructure,
            3 => Field::Body,
            4 => Field::Headers,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Header(Header),
    Msg(IndexMsg),
    Expunge {
        uid: u32,
        modseq: u64,
    },
    Cache {
        uid: u32,
        field: Field,
        data: Vec<u8>,
    },
}

/// 64-bit FNV-1a: enough to tell a torn or overwritten frame from a whole one.
pub fn checksum(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn stamp(&mut self, s: (u64, u64, i64)) {
        self.u64(s.0);
        self.u64(s.1);
        self.i64(s.2);
    }
}

struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn stamp(&mut self) -> Option<(u64, u64, i64)> {
        Some((self.u64()?, self.u64()?, self.i64()?))
    }
}

impl Record {
    /// The record framed for the log.
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Out(Vec::with_capacity(96));
        match self {
            Record::Header(h) => {
                o.u8(1);
                o.u32(h.uid_validity);
                o.u32(h.next_uid);
                o.u32(h.first_recent_uid);
                o.u64(h.highest_modseq);
                o.i64(h.scan_started);
                o.stamp(h.stamps.new);
                o.stamp(h.stamps.cur);
                o.stamp(h.stamps.uidlist);
                o.u32(h.in_new);
            }
            Record::Msg(m) => {
                o.u8(2);
                o.u32(m.uid);
                o.u64(m.modseq);
                o.u64(m.size);
                o.u64(m.vsize);
                o.i64(m.date);
                o.u8(u8::from(m.in_new));
                o.bytes(m.name.as_bytes());
                o.bytes(m.guid.as_bytes());
            }
            Record::Expunge { uid, modseq } => {
                o.u8(3);
                o.u32(*uid);
                o.u64(*modseq);
            }
            Record::Cache { uid, field, data } => {
                o.u8(4);
                o.u32(*uid);
                o.u8(*field as u8);
                o.bytes(data);
            }
        }
        let payload = o.0;
        let mut f = Vec::with_capacity(FRAME + payload.len());
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(&checksum(&payload).to_le_bytes());
        f.extend_from_slice(&payload);
        f
    }

    /// Decodes one payload (already checksummed).
    pub fn decode(p: &[u8]) -> Option<Record> {
        let mut i = In(p);
        let r = match i.u8()? {
            1 => Record::Header(Header {
                uid_validity: i.u32()?,
                next_uid: i.u32()?,
                first_recent_uid: i.u32()?,
                highest_modseq: i.u64()?,
                scan_started: i.i64()?,
                stamps: Stamps {
                    new: i.stamp()?,
                    cur: i.stamp()?,
                    uidlist: i.stamp()?,
                },
                in_new: i.u32()?,
            }),
            2 => Record::Msg(IndexMsg {
                uid: i.u32()?,
                modseq: i.u64()?,
                size: i.u64()?,
                vsize: i.u64()?,
                date: i.i64()?,
                in_new: i.u8()? != 0,
                name: i.string()?,
                guid: i.string()?,
            }),
            3 => Record::Expunge {
                uid: i.u32()?,
                modseq: i.u64()?,
            },
            4 => Record::Cache {
                uid: i.u32()?,
                field: Field::from_u8(i.u8()?)?,
                data: i.bytes()?.to_vec(),
            },
            _ => return None,
        };
        i.0.is_empty().then_some(r)
    }
}

/// Splits `data` (the file after the magic, starting at file offset `base`) into whole,
/// checksummed frames: `(payload offset in the file, payload)` each, and the length of the
/// valid prefix. Parsing stops at the first bad frame.
pub fn frames(data: &[u8], base: u64) -> (Vec<(u64, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while data.len() - at >= FRAME {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let sum = u64::from_le_bytes(data[at + 4..at + 12].try_into().expect("8 bytes"));
        if len > MAX_RECORD + 64 || data.len() - at - FRAME < len {
            break;
        }
        let payload = &data[at + FRAME..at + FRAME + len];
        if checksum(payload) != sum {
            break;
        }
        out.push((base + (at + FRAME) as u64, payload));
        at += FRAME + len;
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let recs = vec![
            Record::Header(Header {
                uid_validity: 7,
                next_uid: 3,
                first_recent_uid: 2,
                highest_modseq: 9,
                scan_started: 1,
                stamps: Stamps {
                    new: (1, 2, 3),
                    cur: (4, 5, 6),
                    uidlist: (7, 8, -9),
                },
                in_new: 1,
            }),
            Record::Msg(IndexMsg {
                uid: 2,
                modseq: 9,
                size: 10,
                vsize: 11,
                date: 1_700_000_000,
                in_new: false,
                name: "1.M2P3.h,S=10,W=11:2,S".into(),
                guid: String::new(),
            }),
            Record::Expunge { uid: 1, modseq: 8 },
            Record::Cache {
                uid: 2,
                field: Field::Envelope,
                data: b"(NIL)".to_vec(),
            },
        ];
        let mut file = Vec::new();
        for r in &recs {
            file.extend(r.encode());
        }
        let whole = file.len();
        let (f, valid) = frames(&file, 8);
        assert_eq!(valid, whole);
        let back: Vec<Record> = f.iter().map(|(_, p)| Record::decode(p).unwrap()).collect();
        assert_eq!(back, recs);
        // Every cut inside the last frame keeps exactly the first three.
        let last = recs[3].encode().len();
        for cut in 1..last {
            let (f, valid) = frames(&file[..whole - cut], 8);
            assert_eq!(f.len(), 3, "cut {cut}");
            assert_eq!(valid, whole - last);
        }
        // A flipped byte in the second frame stops there.
        let mut bad = file.clone();
        bad[recs[0].encode().len() + FRAME + 3] ^= 0x40;
        assert_eq!(frames(&bad, 8).0.len(), 1);
    }
}
