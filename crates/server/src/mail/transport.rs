//! The two ways a message leaves: SMTP (lettre over rustls) or an `.eml` file.

use std::path::PathBuf;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mana_core::store::OutboxMessage;

use crate::config::{EmailSettings, SmtpSettings, SmtpTls};

/// Why a message was not sent.
#[derive(Debug)]
pub struct SendError {
    /// The relay refused it for good (a 5xx answer, an address that cannot be written): no retry.
    pub permanent: bool,
    pub reason: String,
}

pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development without a relay: each message becomes a file, and its links are logged.
    Files(PathBuf),
}

impl Mailer {
    pub fn from_settings(settings: &EmailSettings) -> anyhow::Result<Self> {
        let from = settings.from.parse().context("EMAIL_FROM")?;
        let transport = match &settings.smtp {
            None => Transport::Files(settings.mail_dir.clone()),
            Some(smtp) => {
                let url = match smtp.tls {
                    // lettre reads the TLS mode from the URL; STARTTLS must be required, never
                    // opportunistic, so that a relay that does not offer it is an error.
                    SmtpTls::StartTls if !smtp.url.contains("tls=") => with_query(&smtp.url, "tls=required"),
                    _ => smtp.url.clone(),
                };
                // The error is not shown: lettre's message may repeat the URL and its password.
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                    .map_err(|_| anyhow::anyhow!("SMTP_URL: not a usable SMTP URL"))?;
                if let Some(tls) = tls_with_private_authority(smtp)? {
                    builder = builder.tls(tls);
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, transport })
    }

    /// Where messages go, for the start-up summary (never the relay's credentials).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "an SMTP relay (SMTP_URL)".into(),
            Transport::Files(dir) => format!("files in {} (no SMTP_URL)", dir.display()),
        }
    }

    pub fn writes_files(&self) -> bool {
        matches!(self.transport, Transport::Files(_))
    }

    pub async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let email = self.build(message)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(email)
                .await
                .map(drop)
                .map_err(|error| SendError { permanent: error.is_permanent(), reason: error.to_string() }),
            Transport::Files(dir) => write_file(dir, message, &email).await,
        }
    }

    fn build(&self, message: &OutboxMessage) -> Result<Message, SendError> {
        let permanent = |reason: String| SendError { permanent: true, reason };
        let to: Mailbox = message.to.parse().map_err(|_| permanent(format!("cannot address {:?}", message.to)))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            // One id per outbox row: a relay or client that sees a resend knows it.
            .message_id(Some(format!("<{}@{domain}>", message.id)))
            .multipart(MultiPart::alternative_plain_html(message.text_body.clone(), message.html_body.clone()))
            .map_err(|error| permanent(format!("cannot build the message: {error}")))
    }
}

/// The relay's TLS with the certificates of `SMTP_CA_FILE` trusted too (the Mozilla roots stay
/// trusted); `None` without the file. Read once, at start-up, so a bad file stops the start.
fn tls_with_private_authority(smtp: &SmtpSettings) -> anyhow::Result<Option<Tls>> {
    let Some(path) = &smtp.ca_file else { return Ok(None) };
    let pem = std::fs::read(path).with_context(|| format!("SMTP_CA_FILE: cannot read {}", path.display()))?;
    // lettre reads a file without any certificate as an empty list, which would trust nothing new.
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    let authority = Certificate::from_pem(&pem)
        .ok()
        .filter(|_| pem.windows(BEGIN.len()).any(|window| window == BEGIN))
        .with_context(|| format!("SMTP_CA_FILE: {} holds no PEM certificate", path.display()))?;
    let host = reqwest::Url::parse(&smtp.url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .context("SMTP_URL: no host name")?;
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(authority)
        .build_rustls()
        .map_err(|_| anyhow::anyhow!("SMTP_CA_FILE: the certificates cannot be used for TLS"))?;
    Ok(Some(match smtp.tls {
        SmtpTls::StartTls => Tls::Required(parameters),
        SmtpTls::Implicit => Tls::Wrapper(parameters),
        SmtpTls::None => Tls::None,
    }))
}

fn with_query(url: &str, parameter: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{parameter}")
}

/// `<mail_dir>/<UTC time>-<recipient>-<id>.eml`, then the message's links in the log, so the
/// whole flow works in development without a mail server.
async fn write_file(dir: &std::path::Path, message: &OutboxMessage, email: &Message) -> Result<(), SendError> {
    let transient = |reason: String| SendError { permanent: false, reason };
    tokio::fs::create_dir_all(dir).await.map_err(|e| transient(format!("cannot create {}: {e}", dir.display())))?;
    let recipient: String =
        message.to.chars().map(|c| if c.is_ascii_alphanumeric() || "@._-".contains(c) { c } else { '_' }).collect();
    let name = format!("{}-{recipient}-{}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), message.id.simple());
    let path = dir.join(name);
    tokio::fs::write(&path, email.formatted())
        .await
        .map_err(|e| transient(format!("cannot write {}: {e}", path.display())))?;
    let links: Vec<&str> = message
        .text_body
        .split_whitespace()
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .collect();
    tracing::info!(to = %message.to, subject = %message.subject, path = %path.display(), ?links, "email written to a file");
    Ok(())
}
