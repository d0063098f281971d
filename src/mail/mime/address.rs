//! Address lists (`From`, `To`, ...), a port of Dovecot's `message-address.c` with
//! `MESSAGE_ADDRESS_PARSE_FLAG_FILL_MISSING` and non-strict dots, as IMAP ENVELOPE uses it:
//! groups become a start marker (mailbox = group name, no domain) and an end marker (all
//! NIL); broken addresses get `MISSING_MAILBOX`, `MISSING_DOMAIN`, `SYNTAX_ERROR` or
//! `INVALID_ROUTE` exactly where Dovecot puts them.

use super::rfc822::Parser;

/// One ENVELOPE address; `None` is NIL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub name: Option<Vec<u8>>,
    pub route: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub domain: Option<Vec<u8>>,
    pub invalid_syntax: bool,
}

struct Ctx<'a> {
    p: Parser<'a>,
    addrs: Vec<Address>,
    addr: Address,
    s: Vec<u8>,
}

/// Parses an address-list header value (unfolded, newlines kept) like Dovecot.
pub fn parse_address_list(value: &[u8], max_addresses: usize) -> Vec<Address> {
    let mut p = Parser::new(value);
    p.last_comment = Some(Vec::new());
    p.nul_replacement = true;
    let mut ctx = Ctx {
        p,
        addrs: Vec::new(),
        addr: Address::default(),
        s: Vec::new(),
    };
    if ctx.p.skip_lwsp() > 0 {
        ctx.parse_address_list(max_addresses);
    }
    ctx.addrs
}

impl Ctx<'_> {
    fn add_address(&mut self) {
        self.addrs.push(std::mem::take(&mut self.addr));
    }

    fn parse_nonstrict_dot_atom(&mut self) -> i32 {
        let mut ret = -1;
        loop {
            while self.p.cur() == b'.' {
                self.s.push(b'.');
                self.p.pos += 1;
                if self.p.at_end() {
                    return 0;
                }
                ret = 1;
            }
            if self.p.cur() == b'@' {
                break;
            }
            ret = self.p.parse_atom(&mut self.s);
            if !(ret > 0 && self.p.cur() == b'.') {
                break;
            }
        }
        ret
    }

    fn parse_local_part(&mut self) -> i32 {
        self.s.clear();
        let ret = if self.p.cur() == b'"' {
            self.p.parse_quoted_string(&mut self.s)
        } else {
            self.parse_nonstrict_dot_atom()
        };
        if ret < 0 {
            return -1;
        }
        self.addr.mailbox = Some(self.s.clone());
        ret
    }

    fn parse_domain(&mut self) -> i32 {
        self.s.clear();
        let ret = self.p.parse_domain(&mut self.s);
        if ret < 0 {
            return -1;
        }
        self.addr.domain = Some(self.s.clone());
        ret
    }

    fn parse_domain_list(&mut self) -> i32 {
        self.s.clear();
        loop {
            if self.p.at_end() {
                return 0;
            }
            if self.p.cur() != b'@' {
                break;
            }
            if !self.s.is_empty() {
                self.s.push(b',');
            }
            self.s.push(b'@');
            let ret = self.p.parse_domain(&mut self.s);
            if ret <= 0 {
                return ret;
            }
            while self.p.skip_lwsp() > 0 && self.p.cur() == b',' {
                self.p.pos += 1;
            }
        }
        self.addr.route = Some(self.s.clone());
        1
    }

    fn parse_angle_addr(&mut self) -> i32 {
        self.p.pos += 1;
        if self.p.skip_lwsp() <= 0 {
            return -1;
        }
        if self.p.cur() == b'@' {
            if self.parse_domain_list() > 0 && self.p.cur() == b':' {
                self.p.pos += 1;
            } else {
                self.addr.route = Some(b"INVALID_ROUTE".to_vec());
                if self.p.at_end() {
                    return -1;
                }
            }
            if self.p.skip_lwsp() <= 0 {
                return -1;
            }
        }
        if self.p.cur() != b'>' {
            if self.parse_local_part() <= 0 {
                return -1;
            }
            if self.p.cur() == b'@' && self.parse_domain() <= 0 {
                return -1;
            }
        }
        if self.p.cur() != b'>' {
            return -1;
        }
        self.p.pos += 1;
        self.p.skip_lwsp()
    }

    fn parse_name_addr(&mut self) -> i32 {
        self.s.clear();
        if self.p.parse_phrase(&mut self.s) <= 0 || self.p.cur() != b'<' {
            return -1;
        }
        self.addr.name = if self.s.is_empty() {
            None
        } else {
            Some(self.s.clone())
        };
        if self.parse_angle_addr() < 0 {
            self.addr.domain = Some(b"SYNTAX_ERROR".to_vec());
            self.addr.invalid_syntax = true;
        }
        if self.p.at_end() {
            0
        } else {
            1
        }
    }

    fn parse_addr_spec(&mut self) -> i32 {
        let mut ret2 = -2;
        if let Some(c) = self.p.last_comment.as_mut() {
            c.clear();
        }
        let quoted_string = self.p.cur() == b'"';
        let mut ret = self.parse_local_part();
        if ret <= 0 {
            self.addr.invalid_syntax = true;
        }
        if ret != 0 && !self.p.at_end() && self.p.cur() == b'@' {
            ret2 = self.parse_domain();
            if ret2 <= 0 {
                ret = ret2;
            }
        }
        let comment = self.p.last_comment.clone().unwrap_or_default();
        if !comment.is_empty() {
            self.addr.name = Some(comment);
        } else if ret2 == -2 {
            self.s.push(b' ');
            let orig = self.s.len();
            let _ = self.p.parse_phrase(&mut self.s);
            if self.s.len() != orig {
                self.addr.mailbox = None;
                self.addr.name = Some(self.s.clone());
            } else if !quoted_string {
                self.addr.domain = Some(Vec::new());
            }
            self.addr.invalid_syntax = true;
            ret = -1;
        }
        ret
    }

    fn add_fixed_address(&mut self) {
        if self.addr.mailbox.is_none() {
            self.addr.mailbox = Some(b"MISSING_MAILBOX".to_vec());
            self.addr.invalid_syntax = true;
        }
        if self.addr.domain.as_ref().is_none_or(|d| d.is_empty()) {
            self.addr.domain = Some(b"MISSING_DOMAIN".to_vec());
            self.addr.invalid_syntax = true;
        }
        self.add_address();
    }

    fn parse_mailbox(&mut self) -> i32 {
        let start = self.p.pos;
        let mut ret = self.parse_name_addr();
        if ret < 0 {
            self.p.pos = start;
            ret = self.parse_addr_spec();
            if self.addr.invalid_syntax
                && self.addr.name.is_none()
                && self.addr.mailbox.is_some()
                && self.addr.domain.is_none()
            {
                self.addr.name = self.addr.mailbox.take();
            }
        }
        if ret < 0 {
            self.addr.invalid_syntax = true;
        }
        self.add_fixed_address();
        ret
    }

    fn parse_group(&mut self) -> i32 {
        self.s.clear();
        if self.p.parse_phrase(&mut self.s) <= 0 || self.p.cur() != b':' {
            return -1;
        }
        self.p.pos += 1;
        let mut ret = self.p.skip_lwsp();
        if ret <= 0 {
            self.addr.invalid_syntax = true;
        }
        self.addr.mailbox = Some(self.s.clone());
        self.add_address();
        if ret > 0 && self.p.cur() != b';' {
            loop {
                let _ = self.parse_mailbox();
                if self.p.at_end() || self.p.cur() != b',' {
                    break;
                }
                self.p.pos += 1;
                if self.p.skip_lwsp() <= 0 {
                    ret = -1;
                    break;
                }
            }
        }
        if ret >= 0 {
            if self.p.at_end() || self.p.cur() != b';' {
                ret = -1;
            } else {
                self.p.pos += 1;
                ret = self.p.skip_lwsp();
            }
        }
        if ret < 0 {
            self.addr.invalid_syntax = true;
        }
        self.add_address();
        if ret == 0 {
            0
        } else {
            1
        }
    }

    fn parse_address(&mut self) -> i32 {
        let start = self.p.pos;
        let ret = self.parse_group();
        if ret < 0 {
            self.p.pos = start;
            // A failed group attempt leaves nothing behind: it returns before adding.
            return self.parse_mailbox();
        }
        ret
    }

    fn parse_address_list(&mut self, mut max: usize) {
        while max > 0 {
            max -= 1;
            if self.parse_address() == 0 {
                break;
            }
            if self.p.at_end() || self.p.cur() != b',' {
                break;
            }
            self.p.pos += 1;
            let ret = self.p.skip_lwsp();
            if ret <= 0 {
                if ret < 0 {
                    self.add_fixed_address();
                }
                break;
            }
        }
    }
}
