//! The messages the service sends: built-in templates (overridable from a directory), filled
//! with the user's details and a link, ready to queue in the outbox.
//!
//! A template is two files per kind: `<kind>.txt`, whose first line is `Subject: …`, then a
//! blank line, then the text body; and `<kind>.html`, the HTML body. `{name}`, `{email}` and
//! `{link}` are replaced (HTML-escaped in the HTML body).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::store::{OutgoingEmail, User};

/// Every message the service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    VerifyEmail,
    PasswordReset,
    PasswordChanged,
    /// To the new address: the link that applies the change.
    EmailChange,
    /// To the old address: a change was asked for.
    EmailChangeRequested,
}

impl MessageKind {
    pub const ALL: [MessageKind; 5] = [
        MessageKind::VerifyEmail,
        MessageKind::PasswordReset,
        MessageKind::PasswordChanged,
        MessageKind::EmailChange,
        MessageKind::EmailChangeRequested,
    ];

    /// The template files' name, without extension.
    pub fn file_stem(self) -> &'static str {
        match self {
            MessageKind::VerifyEmail => "verify_email",
            MessageKind::PasswordReset => "password_reset",
            MessageKind::PasswordChanged => "password_changed",
            MessageKind::EmailChange => "email_change",
            MessageKind::EmailChangeRequested => "email_change_requested",
        }
    }

    fn built_in(self) -> (&'static str, &'static str) {
        match self {
            MessageKind::VerifyEmail => {
                (include_str!("templates/verify_email.txt"), include_str!("templates/verify_email.html"))
            }
            MessageKind::PasswordReset => {
                (include_str!("templates/password_reset.txt"), include_str!("templates/password_reset.html"))
            }
            MessageKind::PasswordChanged => {
                (include_str!("templates/password_changed.txt"), include_str!("templates/password_changed.html"))
            }
            MessageKind::EmailChange => {
                (include_str!("templates/email_change.txt"), include_str!("templates/email_change.html"))
            }
            MessageKind::EmailChangeRequested => (
                include_str!("templates/email_change_requested.txt"),
                include_str!("templates/email_change_requested.html"),
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Template {
    subject: String,
    text: String,
    html: String,
}

impl Template {
    fn parse(text_file: &str, html: &str) -> anyhow::Result<Self> {
        let (first, body) = text_file.split_once('\n').unwrap_or((text_file, ""));
        let Some(subject) = first.strip_prefix("Subject:").map(str::trim).filter(|s| !s.is_empty()) else {
            bail!("the first line must be `Subject: …`");
        };
        Ok(Self { subject: subject.to_owned(), text: body.trim_start_matches('\n').to_owned(), html: html.to_owned() })
    }
}

/// Where links in messages lead: templates containing `{token}`.
#[derive(Debug, Clone)]
pub struct LinkTemplates {
    pub verify_email: String,
    pub reset_password: String,
}

impl LinkTemplates {
    /// The built-in pages of the service at `public_url`.
    pub fn built_in(public_url: &str) -> Self {
        Self {
            verify_email: format!("{public_url}/auth/verify-email?token={{token}}"),
            reset_password: format!("{public_url}/auth/reset-password?token={{token}}"),
        }
    }
}

/// Templates and link targets: everything needed to write a message.
#[derive(Debug, Clone)]
pub struct MailComposer {
    templates: HashMap<MessageKind, Template>,
    pub links: LinkTemplates,
}

impl MailComposer {
    /// The built-in templates, each replaced by the files of `overrides` where it has them.
    pub fn new(links: LinkTemplates, overrides: Option<&Path>) -> anyhow::Result<Self> {
        let mut templates = HashMap::new();
        for kind in MessageKind::ALL {
            let (text, html) = kind.built_in();
            let mut template = Template::parse(text, html).context("built-in template")?;
            if let Some(dir) = overrides {
                let text_path = dir.join(format!("{}.txt", kind.file_stem()));
                let html_path = dir.join(format!("{}.html", kind.file_stem()));
                if text_path.exists() || html_path.exists() {
                    let read = |path: &Path| {
                        std::fs::read_to_string(path)
                            .with_context(|| format!("EMAIL_TEMPLATES_DIR: {}", path.display()))
                    };
                    template = Template::parse(&read(&text_path)?, &read(&html_path)?)
                        .with_context(|| format!("EMAIL_TEMPLATES_DIR: {}", text_path.display()))?;
                }
            }
            templates.insert(kind, template);
        }
        Ok(Self { templates, links })
    }

    /// The message of `kind` to `user`, with `link` if it has one, ready for the outbox.
    pub fn compose(&self, kind: MessageKind, user: &User, link: Option<&str>, at: DateTime<Utc>) -> OutgoingEmail {
        let template = &self.templates[&kind];
        let email = user.email.as_str();
        let name = user.name.as_deref().unwrap_or(email);
        let fill = |text: &str, escape: fn(&str) -> String| {
            text.replace("{name}", &escape(name))
                .replace("{email}", &escape(email))
                .replace("{link}", &escape(link.unwrap_or("")))
        };
        OutgoingEmail {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            to: user.email.clone(),
            subject: fill(&template.subject, |s| s.to_owned()),
            text_body: fill(&template.text, |s| s.to_owned()),
            html_body: fill(&template.html, escape_html),
            created_at: at,
        }
    }
}

/// Fills `{token}` in a link template.
pub fn link(template: &str, token: &str) -> String {
    template.replace("{token}", token)
}

/// Text made safe to place in HTML, in element content and in quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Email;
    use crate::ids::{Role, UserId};

    fn user(name: Option<&str>) -> User {
        User {
            id: UserId::generate(),
            email: Email::parse("ada@example.com").unwrap(),
            name: name.map(str::to_owned),
            role: Role::User,
            email_verified: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            deleted_at: None,
            locked_at: None,
        }
    }

    #[test]
    fn every_built_in_template_has_a_subject_and_uses_the_link_it_is_given() {
        let composer = MailComposer::new(LinkTemplates::built_in("http://localhost:3001"), None).unwrap();
        for kind in MessageKind::ALL {
            let message = composer.compose(kind, &user(Some("Ada")), Some("https://x.test/l?token=t"), Utc::now());
            assert!(!message.subject.is_empty() && message.text_body.contains("Ada"), "{kind:?}");
            assert!(
                !message.text_body.contains('{') && !message.html_body.contains('{'),
                "{kind:?} left a placeholder"
            );
            if !matches!(kind, MessageKind::PasswordChanged | MessageKind::EmailChangeRequested) {
                assert!(message.text_body.contains("https://x.test/l?token=t"), "{kind:?}");
            }
        }
    }

    #[test]
    fn values_are_escaped_in_html_only() {
        let composer = MailComposer::new(LinkTemplates::built_in("http://localhost:3001"), None).unwrap();
        let message = composer.compose(
            MessageKind::VerifyEmail,
            &user(Some("<b>Eve</b>")),
            Some("https://x.test/?a=1&b=2"),
            Utc::now(),
        );
        assert!(message.text_body.contains("<b>Eve</b>"));
        assert!(message.html_body.contains("&lt;b&gt;Eve&lt;/b&gt;") && message.html_body.contains("a=1&amp;b=2"));
    }

    #[test]
    fn templates_in_a_directory_replace_the_built_in_ones() {
        let dir = std::env::temp_dir().join(format!("mana-templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("password_reset.txt"), "Subject: Neues Passwort\n\nHallo {name}: {link}\n").unwrap();
        std::fs::write(dir.join("password_reset.html"), "<p>Hallo {name}</p>").unwrap();
        let composer = MailComposer::new(LinkTemplates::built_in("http://h"), Some(&dir)).unwrap();
        let message = composer.compose(MessageKind::PasswordReset, &user(None), Some("L"), Utc::now());
        assert_eq!(
            (message.subject.as_str(), message.text_body.as_str()),
            ("Neues Passwort", "Hallo ada@example.com: L\n")
        );
        std::fs::write(dir.join("verify_email.txt"), "no subject line\n").unwrap();
        std::fs::write(dir.join("verify_email.html"), "").unwrap();
        assert!(MailComposer::new(LinkTemplates::built_in("http://h"), Some(&dir)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_fill_the_token() {
        assert_eq!(link("https://app.test/reset#{token}", "abc"), "https://app.test/reset#abc");
    }
}
