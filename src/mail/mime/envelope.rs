//! IMAP ENVELOPE, as Dovecot's `message_part_envelope_parse_from_header` collects it and
//! `imap_envelope_write` writes it: the first Date/Subject/Message-ID/In-Reply-To, address
//! headers of the same name merged as if comma-separated, Sender and Reply-To falling
//! back to From.

use super::address::{parse_address_list, Address};
use super::header;
use super::quote::{append_nstring, append_nstring_nolf, append_string_for_humans};

/// The ENVELOPE fields of one header block.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

impl Envelope {
    /// Collects the envelope of a raw header block.
    pub fn parse(header_block: &[u8]) -> Envelope {
        let mut e = Envelope::default();
        for f in header::fields(header_block) {
            let n = |s: &str| f.name.eq_ignore_ascii_case(s.as_bytes());
            let (addrs, text) = if n("Date") {
                (None, Some(&mut e.date))
            } else if n("Subject") {
                (None, Some(&mut e.subject))
            } else if n("Message-ID") {
                (None, Some(&mut e.message_id))
            } else if n("In-Reply-To") {
                (None, Some(&mut e.in_reply_to))
            } else if n("From") {
                (Some(&mut e.from), None)
            } else if n("Sender") {
                (Some(&mut e.sender), None)
            } else if n("Reply-To") {
                (Some(&mut e.reply_to), None)
            } else if n("To") {
                (Some(&mut e.to), None)
            } else if n("Cc") {
                (Some(&mut e.cc), None)
            } else if n("Bcc") {
                (Some(&mut e.bcc), None)
            } else {
                (None, None)
            };
            if let Some(list) = addrs {
                list.extend(parse_address_list(&f.value, usize::MAX));
            } else if let Some(slot) = text {
                // Dovecot overwrites: the last header of the name wins.
                *slot = Some(header::strdup(&f.value));
            }
        }
        e
    }

    /// The ENVELOPE list body (without the outer parentheses), as Dovecot writes it.
    pub fn write<'a>(&'a self, out: &mut Vec<u8>) {
        append_nstring_nolf(out, self.date.as_deref());
        out.push(b' ');
        match &self.subject {
            None => out.extend_from_slice(b"NIL"),
            Some(s) => append_string_for_humans(out, s),
        }
        let or_from = |l: &'a [Address]| if l.is_empty() { &self.from[..] } else { l };
        for list in [
            &self.from[..],
            or_from(&self.sender),
            or_from(&self.reply_to),
            &self.to[..],
            &self.cc[..],
            &self.bcc[..],
        ] {
            out.push(b' ');
            write_addresses(out, list);
        }
        out.push(b' ');
        append_nstring_nolf(out, self.in_reply_to.as_deref());
        out.push(b' ');
        append_nstring_nolf(out, self.message_id.as_deref());
    }

    /// `(...)` of FETCH ENVELOPE.
    pub fn to_imap(&self) -> Vec<u8> {
        let mut out = vec![b'('];
        self.write(&mut out);
        out.push(b')');
        out
    }
}

fn write_addresses(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        match &a.name {
            None => out.extend_from_slice(b"NIL"),
            Some(n) => append_string_for_humans(out, n),
        }
        out.push(b' ');
        append_nstring(out, a.route.as_deref());
        out.push(b' ');
        append_nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        append_nstring(out, a.domain.as_deref());
        out.push(b')');
    }
    out.push(b')');
}
