//! Validation of values that arrive from outside. Each function returns the normalised value
//! or a message fit for the user.

/// An e-mail address: trimmed, lower-cased, `local@domain` with a dot in the domain, no spaces,
/// at most 255 characters (the column's length).
pub fn email(value: &str) -> Result<String, String> {
    let value = value.trim().to_lowercase();
    let valid = value.len() <= 255
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(value)
    } else {
        Err(format!("{value:?} is not a valid e-mail address"))
    }
}

/// A client slug: 1–100 characters of lower-case letters, digits and inner hyphens.
pub fn slug(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a valid slug: use 1-100 lower-case letters, digits and inner hyphens"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@example",
            "a@b@c.com",
            "ada@.com",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn slugs() {
        assert!(slug("acme-corp-2").is_ok());
        for bad in ["", "-acme", "acme-", "Acme", "acme corp", "acme_corp"] {
            assert!(slug(bad).is_err(), "{bad:?}");
        }
        assert!(slug(&"a".repeat(101)).is_err());
    }
}
