//! The README's quick start: signs up (or in), spends credits and signs out, against the server
//! at `MANA_AUTH_URL` (default `http://127.0.0.1:3001`), the session in `session.json`.

use mana_client::{Client, FileStore, SignIn};
use mana_proto::{RegisterRequest, UseCreditsRequest};

#[tokio::main]
async fn main() -> Result<(), mana_client::ClientError> {
    let server = std::env::var("MANA_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:3001".into());
    let client = Client::builder(server).store(FileStore::new("session.json")).build();
    let email = "linus@example.com";
    let password = "correct horse battery staple";
    let _ = client.register(&RegisterRequest { email: email.into(), password: password.into(), name: None }).await;
    if let SignIn::SecondFactorRequired(challenge) = client.sign_in(email, password).await? {
        eprintln!("this account needs its second factor: {:?}", challenge.methods);
        return Ok(());
    }
    let spend = UseCreditsRequest {
        amount: Some(5),
        app_id: "chat".into(),
        description: "An answer".into(),
        ..Default::default()
    };
    let receipt = client.use_credits(spend).await?;
    println!("spent {}; {} free credits left", -receipt.transaction.amount, receipt.new_balance.free_credits_remaining);
    client.sign_out().await?;
    Ok(())
}
