//! A fresh PostgreSQL database per test, on the server `CERTLOOP_TEST_POSTGRES` names
//! (`postgres://user@127.0.0.1:port`, no database; scripts/test starts one on loopback).

use certloop::{Error, Result};

/// The environment variable naming the test server.
pub const SERVER_ENV: &str = "CERTLOOP_TEST_POSTGRES";

/// The base URL of the test server, `None` when tests without PostgreSQL may skip. With
/// `CERTLOOP_TEST_REQUIRE_POSTGRES=1` (scripts/test) a missing server is an error instead,
/// so a broken setup can never pass by skipping.
pub fn server() -> Result<Option<String>> {
    match std::env::var(SERVER_ENV) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url.trim_end_matches('/').to_owned())),
        _ if std::env::var("CERTLOOP_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") => Err(
            Error::invalid(SERVER_ENV, "unset, but CERTLOOP_TEST_REQUIRE_POSTGRES=1 asks for it"),
        ),
        _ => {
            eprintln!("{SERVER_ENV} is unset: skipping a PostgreSQL test");
            Ok(None)
        }
    }
}

/// Create an empty database and return its URL (`None`: skip, see [`server`]).
pub async fn fresh_database() -> Result<Option<String>> {
    let Some(base) = server()? else { return Ok(None) };
    let name = format!("certloop_test_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .map_err(|e| Error::store(format!("{base}: {e}")))?;
    let task = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| Error::store(format!("creating {name}: {e}")))?;
    drop(client);
    let _ = task.await;
    Ok(Some(format!("{base}/{name}")))
}

/// Run `sql` on the database at `url` outside certloop (what another client could do).
pub async fn raw(url: &str, sql: &str) -> std::result::Result<(), String> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    let task = tokio::spawn(connection);
    let result = client.batch_execute(sql).await.map_err(|e| match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    });
    drop(client);
    let _ = task.await;
    result
}
