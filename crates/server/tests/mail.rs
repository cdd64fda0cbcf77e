//! Email delivery through a real SMTP server process over TCP (Debian's `aiosmtpd`, which
//! stores what it receives in a maildir): the outbox worker sends queued messages, two workers
//! on one PostgreSQL send each of 200 messages exactly once, a relay that cannot be reached
//! leads to a retry later, and development without a relay writes `.eml` files.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mana_core::clock::{Clock, SystemClock};
use mana_core::store::{LinkMail, NewLinkToken, OutgoingEmail, Store};
use mana_core::tokens::{LinkPurpose, LinkToken};
use mana_server::config::{EmailSettings, SmtpSettings, SmtpTls};
use mana_server::mail::{Mailer, OutboxWorker};
use mana_store_conformance::create_user;

/// The tests here pick free ports and start processes on them; one at a time, so that a port one
/// test just found free is not taken by another test's process meanwhile.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct SmtpSink {
    port: u16,
    maildir: PathBuf,
    process: Child,
}

impl SmtpSink {
    fn start() -> Self {
        // A statement of its own: the probing listener must be closed before aiosmtpd binds.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// A relay that speaks TLS with the certificate `tls` holds for `localhost`: STARTTLS, which
    /// it then requires before any mail, or TLS from the first byte.
    fn start_tls(tls: &TestAuthority, implicit: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (cert, key) = (tls.server_cert.to_str().unwrap(), tls.server_key.to_str().unwrap());
        let options =
            if implicit { ["--smtpscert", cert, "--smtpskey", key] } else { ["--tlscert", cert, "--tlskey", key] };
        Self::start_with(port, &options)
    }

    fn start_with(port: u16, options: &[&str]) -> Self {
        // aiosmtpd makes the maildir's folders only when it creates the maildir itself.
        let maildir = scratch_dir("smtp-sink").join("maildir");
        let process = Command::new("aiosmtpd")
            .args(["-n", "-l", &format!("127.0.0.1:{port}")])
            .args(options)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd is needed for this test (Debian: apt-get install python3-aiosmtpd)");
        // Made before the wait, so that a failed start still stops the process (Drop).
        let sink = Self { port, maildir, process };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    /// Every message received so far, as raw text.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        if let Some(parent) = self.maildir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// A private certificate authority and a certificate it issued for `localhost`, as PEM files.
struct TestAuthority {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl TestAuthority {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&server_key, &ca).unwrap();
        let dir = scratch_dir("tls");
        let authority = Self {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
        };
        std::fs::write(&authority.ca_cert, ca.pem()).unwrap();
        std::fs::write(&authority.server_cert, server.pem()).unwrap();
        std::fs::write(&authority.server_key, server_key.serialize_pem()).unwrap();
        authority
    }
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("mana-core-auth-tests").join(format!("{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(smtp: Option<String>, mail_dir: &Path) -> EmailSettings {
    EmailSettings {
        smtp: smtp.map(|url| SmtpSettings { url, tls: SmtpTls::None, ca_file: None }),
        from: "Mana <no-reply@mana.test>".into(),
        mail_dir: mail_dir.to_owned(),
        verify_email_url: "http://127.0.0.1:3001/auth/verify-email?token={token}".into(),
        reset_password_url: "http://127.0.0.1:3001/auth/reset-password?token={token}".into(),
        templates_dir: None,
        first_retry: chrono::Duration::seconds(30),
    }
}

/// Settings for a relay on `localhost` over TLS, trusting `ca_file` if given.
fn tls_settings(url: String, tls: SmtpTls, ca_file: Option<&Path>) -> EmailSettings {
    let mut settings = settings(None, &scratch_dir("unused"));
    settings.smtp = Some(SmtpSettings { url, tls, ca_file: ca_file.map(Path::to_owned) });
    settings
}

fn worker(store: &Arc<dyn Store>, settings: &EmailSettings) -> OutboxWorker {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mailer = Arc::new(Mailer::from_settings(settings).unwrap());
    OutboxWorker::new(store.clone(), mailer, clock, chrono::Duration::seconds(30))
}

async fn sqlite_store() -> Arc<dyn Store> {
    let path = scratch_dir("mail-db").join("mana.db");
    let store = mana_store_sqlite::SqliteBackend::connect(&format!("sqlite://{}", path.display()), 4).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

/// Queues `count` verification emails, one per user, each with a link in its text.
async fn queue(store: &Arc<dyn Store>, count: usize) {
    for n in 0..count {
        let user = create_user(store, &format!("user{n}@example.com")).await;
        let token = LinkToken::generate();
        let now = chrono::Utc::now();
        let new = NewLinkToken {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            purpose: LinkPurpose::EmailVerification,
            hash: token.hash(),
            new_email: None,
            created_at: now,
            expires_at: now + LinkPurpose::EmailVerification.lifetime(),
        };
        let link = format!("http://127.0.0.1:3001/auth/verify-email?token={}", token.expose());
        let email = OutgoingEmail {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            to: user.email.clone(),
            subject: "Confirm your email address".into(),
            text_body: format!("Confirm your address:\n\n{link}\n"),
            html_body: format!("<p><a href=\"{link}\">Confirm your address</a></p>"),
            created_at: now,
        };
        store.issue_link_token(LinkMail { token: new, email, notice: None }).await.unwrap();
    }
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test]
async fn queued_messages_reach_the_smtp_server_once_with_text_and_html() {
    let _serial = SERIAL.lock().await;
    let sink = SmtpSink::start();
    let store = sqlite_store().await;
    queue(&store, 3).await;
    let worker = worker(&store, &settings(Some(format!("smtp://127.0.0.1:{}", sink.port)), &scratch_dir("unused")));
    let round = worker.deliver_due().await.unwrap();
    assert_eq!((round.claimed, round.delivered), (3, 3), "{round:?}");
    assert_eq!(worker.deliver_due().await.unwrap().claimed, 0, "delivered messages are not sent again");

    let messages = sink.messages();
    assert_eq!(messages.len(), 3);
    let recipients: HashSet<_> = messages.iter().map(|m| header(m, "To").unwrap().to_owned()).collect();
    assert_eq!(recipients.len(), 3);
    let message = &messages[0];
    assert_eq!(header(message, "Subject"), Some("Confirm your email address"));
    assert_eq!(header(message, "From"), Some("Mana <no-reply@mana.test>"));
    assert!(message.contains("multipart/alternative") && message.contains("text/html"), "{message}");
    assert!(message.contains("/auth/verify-email?token="), "the link arrives: {message}");
}

#[tokio::test]
async fn starttls_to_a_relay_whose_certificate_a_trusted_private_authority_issued() {
    let _serial = SERIAL.lock().await;
    let authority = TestAuthority::new();
    let sink = SmtpSink::start_tls(&authority, false);
    let store = sqlite_store().await;
    queue(&store, 2).await;
    let url = format!("smtp://localhost:{}", sink.port);
    let worker = worker(&store, &tls_settings(url, SmtpTls::StartTls, Some(&authority.ca_cert)));
    let round = worker.deliver_due().await.unwrap();
    assert_eq!((round.claimed, round.delivered), (2, 2), "{round:?}");
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn implicit_tls_to_a_relay_whose_certificate_a_trusted_private_authority_issued() {
    let _serial = SERIAL.lock().await;
    let authority = TestAuthority::new();
    let sink = SmtpSink::start_tls(&authority, true);
    let store = sqlite_store().await;
    queue(&store, 1).await;
    let url = format!("smtps://localhost:{}", sink.port);
    let worker = worker(&store, &tls_settings(url, SmtpTls::Implicit, Some(&authority.ca_cert)));
    let round = worker.deliver_due().await.unwrap();
    assert_eq!((round.claimed, round.delivered), (1, 1), "{round:?}");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("/auth/verify-email?token="));
}

#[tokio::test]
async fn a_relay_certificate_no_trusted_authority_issued_gets_no_mail() {
    let _serial = SERIAL.lock().await;
    let authority = TestAuthority::new();
    for implicit in [false, true] {
        let sink = SmtpSink::start_tls(&authority, implicit);
        let store = sqlite_store().await;
        queue(&store, 1).await;
        let (url, tls) = if implicit {
            (format!("smtps://localhost:{}", sink.port), SmtpTls::Implicit)
        } else {
            (format!("smtp://localhost:{}", sink.port), SmtpTls::StartTls)
        };
        // Only the Mozilla roots are trusted: the private authority is not.
        let round = worker(&store, &tls_settings(url, tls, None)).deliver_due().await.unwrap();
        assert_eq!((round.claimed, round.retried), (1, 1), "implicit TLS: {implicit}, {round:?}");
        assert!(sink.messages().is_empty(), "nothing reached a relay that could not prove its name");
    }
}

#[test]
fn an_authority_file_without_a_certificate_stops_the_start() {
    let dir = scratch_dir("bad-ca");
    let not_pem = dir.join("ca.pem");
    std::fs::write(&not_pem, "this is no certificate").unwrap();
    for ca_file in [not_pem, dir.join("missing.pem")] {
        let settings = tls_settings("smtp://localhost:587".into(), SmtpTls::StartTls, Some(&ca_file));
        let error = Mailer::from_settings(&settings).err().expect("refused");
        assert!(format!("{error:#}").contains("SMTP_CA_FILE"), "{error:#}");
    }
}

#[tokio::test]
async fn a_relay_that_offers_no_starttls_gets_no_mail_in_plain_text() {
    let _serial = SERIAL.lock().await;
    let sink = SmtpSink::start();
    let store = sqlite_store().await;
    queue(&store, 1).await;
    let url = format!("smtp://localhost:{}", sink.port);
    let round = worker(&store, &tls_settings(url, SmtpTls::StartTls, None)).deliver_due().await.unwrap();
    assert_eq!((round.claimed, round.retried), (1, 1), "{round:?}");
    assert!(sink.messages().is_empty(), "STARTTLS is required, never skipped");
}

#[tokio::test]
async fn two_workers_on_one_postgresql_deliver_each_of_200_messages_exactly_once() {
    let _serial = SERIAL.lock().await;
    let sink = SmtpSink::start();
    let (first, url) = mana_store_postgres::testing::fresh_database(4).await.expect("test PostgreSQL");
    // A second pool on the same database stands for a second instance.
    let second = mana_store_postgres::PostgresBackend::connect(&url, 4, false).await.unwrap();
    let first: Arc<dyn Store> = Arc::new(first);
    let second: Arc<dyn Store> = Arc::new(second);
    queue(&first, 200).await;
    let settings = settings(Some(format!("smtp://127.0.0.1:{}", sink.port)), &scratch_dir("unused"));
    let drain = |store: Arc<dyn Store>| {
        let worker = worker(&store, &settings);
        tokio::spawn(async move {
            let mut delivered = 0;
            loop {
                let round = worker.deliver_due().await.unwrap();
                delivered += round.delivered;
                if round.claimed == 0 {
                    return delivered;
                }
            }
        })
    };
    let (a, b) = (drain(first), drain(second));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a + b, 200);
    assert!(a > 0 && b > 0, "both workers took part ({a} and {b})");

    let messages = sink.messages();
    assert_eq!(messages.len(), 200, "each message arrived once");
    let ids: HashSet<_> = messages.iter().map(|m| header(m, "Message-ID").unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 200, "no message arrived twice");
}

#[tokio::test]
async fn an_unreachable_relay_means_a_retry_later_not_a_lost_message() {
    let _serial = SERIAL.lock().await;
    let store = sqlite_store().await;
    queue(&store, 2).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let worker = worker(&store, &settings(Some(format!("smtp://127.0.0.1:{closed}")), &scratch_dir("unused")));
    let round = worker.deliver_due().await.unwrap();
    assert_eq!((round.claimed, round.retried, round.abandoned), (2, 2, 0), "{round:?}");
    assert_eq!(worker.deliver_due().await.unwrap().claimed, 0, "not before the retry is due");
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let due = store.claim_outbox(later, later + chrono::Duration::minutes(1), 10).await.unwrap();
    assert_eq!(due.iter().map(|m| m.attempts).collect::<Vec<_>>(), [2, 2], "both are tried again");
}

#[tokio::test]
async fn without_a_relay_messages_become_eml_files() {
    let _serial = SERIAL.lock().await;
    let store = sqlite_store().await;
    queue(&store, 1).await;
    let dir = scratch_dir("mail");
    let round = worker(&store, &settings(None, &dir)).deliver_due().await.unwrap();
    assert_eq!(round.delivered, 1);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(".eml") && name.contains("user0@example.com"), "{name}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(header(&text, "Subject"), Some("Confirm your email address"));
    assert!(text.contains("/auth/verify-email?token="));
}

/// The service as a process of its own, so that it can be killed.
fn start_service(dir: &Path, port: u16, smtp_port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mana-core-auth"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .envs([
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("SMTP_TLS", "none".into()),
            ("EMAIL_RETRY_SECONDS", "1".into()),
            ("BCRYPT_COST", "4".into()),
            ("LOG_LEVEL", "warn".into()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the service did not become ready");
}

#[tokio::test]
async fn a_message_committed_before_a_crash_is_delivered_once_after_the_restart() {
    let _serial = SERIAL.lock().await;
    let dir = scratch_dir("crash");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The relay's port, closed for now: nothing can be delivered before the crash.
    let smtp_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (http, base) = (reqwest::Client::new(), format!("http://127.0.0.1:{port}"));
    let mut first = start_service(&dir, port, smtp_port);
    wait_ready(&http, &base).await;
    let body = serde_json::json!({"email": "crash@example.com", "password": "correct horse battery staple"});
    assert_eq!(http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap().status(), 201);
    let forgot = serde_json::json!({"email": "crash@example.com"});
    assert_eq!(
        http.post(format!("{base}/api/v1/auth/forgot-password")).json(&forgot).send().await.unwrap().status(),
        202
    );
    // Let the background request commit and a delivery attempt fail, then kill without warning.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();

    let sink = SmtpSink::start_on(smtp_port);
    let mut second = start_service(&dir, port, smtp_port);
    wait_ready(&http, &base).await;
    for _ in 0..400 {
        if sink.messages().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let mut subjects: Vec<String> =
        sink.messages().iter().filter_map(|m| header(m, "Subject").map(str::to_owned)).collect();
    subjects.sort();
    assert_eq!(subjects, ["Confirm your email address", "Reset your password"], "each message exactly once");
    let _ = std::fs::remove_dir_all(&dir);
}
