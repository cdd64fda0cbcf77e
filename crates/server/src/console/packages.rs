//! The credit packages on sale: change one, add one, withdraw one.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mana_core::Error;
use mana_proto::{AdminPackageView, PackageRequest};
use serde::Deserialize;

use super::pages::{Problem, render};
use super::session::{AdminForm, ConsoleAdmin, NoFields};
use crate::administration;
use crate::http::Client;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/packages.html")]
struct PackagesPage<'a> {
    admin_email: &'a str,
    csrf: &'a str,
    packages: Vec<AdminPackageView>,
    problem: Option<String>,
}

pub async fn show(State(state): State<AppState>, admin: ConsoleAdmin) -> Response {
    packages_page(&state, &admin, StatusCode::OK, None).await
}

async fn packages_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    status: StatusCode,
    problem: Option<String>,
) -> Response {
    match administration::packages(state).await {
        Ok(packages) => {
            render(status, &PackagesPage { admin_email: admin.email(), csrf: &admin.csrf, packages, problem })
        }
        Err(error) => Problem::from(error).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PackageForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    credits: String,
    #[serde(default)]
    price_cents: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    stripe_price_id: String,
    #[serde(default)]
    sort_order: String,
    /// A checkbox: sent as `on` when ticked, absent otherwise.
    #[serde(default)]
    active: String,
}

fn whole_number(field: &str, text: &str) -> Result<Option<i64>, Error> {
    match text.trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| Error::invalid_field(field, "must be a whole number")),
    }
}

fn request(form: PackageForm) -> Result<(String, PackageRequest), Error> {
    let sort_order = whole_number("sort_order", &form.sort_order)?
        .map(|n| i32::try_from(n).map_err(|_| Error::invalid_field("sort_order", "is too large")))
        .transpose()?;
    let text = |value: String| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    let request = PackageRequest {
        name: form.name.trim().to_owned(),
        credits: whole_number("credits", &form.credits)?,
        price_cents: whole_number("price_cents", &form.price_cents)?,
        currency: text(form.currency),
        stripe_price_id: text(form.stripe_price_id),
        active: Some(form.active == "on"),
        sort_order,
    };
    Ok((form.id.trim().to_owned(), request))
}

pub async fn save(
    State(state): State<AppState>,
    Client(client): Client,
    AdminForm { admin, form }: AdminForm<PackageForm>,
) -> Response {
    let outcome = match request(form) {
        Ok((id, request)) => administration::save_package(&state, &admin.admin, id, request, &client).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Redirect::to("/admin/packages").into_response(),
        Err(error) => {
            let problem = Problem::from(error);
            packages_page(&state, &admin, problem.status, Some(problem.message)).await
        }
    }
}

pub async fn withdraw(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
    AdminForm { admin, .. }: AdminForm<NoFields>,
) -> Response {
    match administration::withdraw_package(&state, &admin.admin, &id, &client).await {
        Ok(()) => Redirect::to("/admin/packages").into_response(),
        Err(error) => {
            let problem = Problem::from(error);
            packages_page(&state, &admin, problem.status, Some(problem.message)).await
        }
    }
}
