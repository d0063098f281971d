//! Dovecot's `%` variables as auth uses them in passdb/userdb args, `default_fields`,
//! `override_fields` and `auth_username_format`: `%u %n %d %s %r %l %h %%`, the long forms
//! `%{user}` `%{username}` `%{domain}` `%{service}` `%{rip}` `%{lip}` `%{home}`, and the `L`
//! (lowercase) and `U` (uppercase) modifiers (`%Lu`, `%{L:user}` is not 2.3 syntax; `%L{user}` is).

/// The values a template may refer to.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub user: String,
    pub service: String,
    pub rip: String,
    pub lip: String,
    pub home: String,
}

impl Vars {
    pub fn new(user: &str) -> Vars {
        Vars {
            user: user.to_string(),
            ..Vars::default()
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        let (n, d) = match self.user.rfind('@') {
            Some(i) => (&self.user[..i], &self.user[i + 1..]),
            None => (self.user.as_str(), ""),
        };
        Some(match name {
            "u" | "user" => self.user.clone(),
            "n" | "username" => n.to_string(),
            "d" | "domain" => d.to_string(),
            "s" | "service" => self.service.clone(),
            "r" | "rip" => self.rip.clone(),
            "l" | "lip" => self.lip.clone(),
            "h" | "home" => self.home.clone(),
            _ => return None,
        })
    }

    /// Expands `template`. Unknown variables are kept as written (Dovecot logs and keeps them).
    pub fn expand(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + 16);
        let mut chars = template.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut lower = false;
            let mut upper = false;
            let mut name = String::new();
            let mut consumed_end = i + 1;
            while let Some(&(j, m)) = chars.peek() {
                match m {
                    'L' => lower = true,
                    'U' => upper = true,
                    '%' if name.is_empty() && !lower && !upper => {
                        chars.next();
                        name.push('%');
                        break;
                    }
                    '{' => {
                        chars.next();
                        for (k, ch) in chars.by_ref() {
                            if ch == '}' {
                                consumed_end = k + 1;
                                break;
                            }
                            name.push(ch);
                        }
                        break;
                    }
                    _ => {
                        chars.next();
                        name.push(m);
                        consumed_end = j + m.len_utf8();
                        break;
                    }
                }
                chars.next();
                consumed_end = j + 1;
            }
            if name == "%" {
                out.push('%');
                continue;
            }
            match self.get(&name) {
                Some(v) if lower => out.push_str(&v.to_lowercase()),
                Some(v) if upper => out.push_str(&v.to_uppercase()),
                Some(v) => out.push_str(&v),
                None => out.push_str(&template[i..consumed_end.max(i + 1)]),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
