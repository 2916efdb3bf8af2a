//! [ssr] Hands a message to where mail goes: an SMTP server over lettre (rustls for TLS), or an
//! `.eml` file in the outbox folder when no server is set.

use crate::{config::Delivery, store::OutgoingMail};
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use std::time::Duration;

/// The longest one delivery may take (connecting, TLS, the server's answers).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Postman {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

/// Why a message was not delivered: for the log and the outbox row. Never holds the message.
#[derive(Debug, thiserror::Error)]
pub enum NotSent {
    #[error("the message cannot be built: {0}")]
    Build(String),
    #[error("the mail server: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("the outbox folder: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("no answer within {}s", SEND_TIMEOUT.as_secs())]
    TimedOut,
}

impl Postman {
    /// The postman for `delivery`; for the outbox folder, the folder is made if missing.
    pub fn new(delivery: &Delivery) -> Result<Self, std::io::Error> {
        match delivery {
            Delivery::Smtp(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|builder| Self::Smtp(builder.timeout(Some(SEND_TIMEOUT)).build()))
                // Checked when the settings were read; kept an error rather than a panic.
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
            Delivery::Outbox(dir) => {
                if !dir.exists() {
                    std::fs::create_dir_all(dir)?;
                    // Its messages hold live reset links: for the server's user alone.
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
                }
                Ok(Self::Files(AsyncFileTransport::new(dir)))
            }
        }
    }

    pub async fn send(&self, from: &Mailbox, mail: &OutgoingMail) -> Result<(), NotSent> {
        let message = build(from, mail)?;
        let sent = async {
            match self {
                Self::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(NotSent::from),
                Self::Files(files) => files.send(message).await.map(drop).map_err(NotSent::from),
            }
        };
        tokio::time::timeout(SEND_TIMEOUT, sent)
            .await
            .map_err(|_| NotSent::TimedOut)?
    }
}

fn build(from: &Mailbox, mail: &OutgoingMail) -> Result<Message, NotSent> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e: lettre::address::AddressError| NotSent::Build(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&mail.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text_body.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html_body.clone()),
                ),
        )
        .map_err(|e| NotSent::Build(e.to_string()))
}
