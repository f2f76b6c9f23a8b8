//! The overview: the last hour's attempts per minute by outcome, with
//! totals, and the workspace's newest events.

use axum::response::IntoResponse;
use maud::html;
use switchyard_proto::v1::ListEventsRequest;

use super::{State, chart, format, layout};
use crate::error::ConsoleError;
use crate::session::SignedIn;

const WINDOW_MINUTES: i64 = 60;

pub async fn page(
    state: State,
    SignedIn(session): SignedIn,
) -> Result<impl IntoResponse, ConsoleError> {
    let now = chrono::Utc::now().timestamp();
    // The window starts at a whole minute so the last bar is this minute.
    let since_minute = (now / 60 - WINDOW_MINUTES + 1) * 60;
    let since = prost_types::Timestamp {
        seconds: since_minute,
        nanos: 0,
    };
    let stats = state
        .backend
        .delivery_stats(&session.credential, Some(since))
        .await?;
    let events = state
        .backend
        .events(
            &session.credential,
            ListEventsRequest {
                page_size: 10,
                ..Default::default()
            },
        )
        .await?;
    let totals = chart::totals(&stats.buckets);
    Ok(layout::page(
        &session,
        "Overview",
        html! {
            h1 { "Overview" }
            h2 { "Attempts per minute, last hour" }
            ul.legend #totals {
                @for (name, total) in &totals {
                    li class=(name) { span.swatch {} (name) ": " span.total data-outcome=(name) { (total) } }
                }
            }
            (chart::render(&stats.buckets, since_minute, WINDOW_MINUTES))
            h2 { "Newest events" }
            table {
                thead { tr { th { "Event" } th { "Type" } th { "Received" } } }
                tbody {
                    @for event in &events {
                        tr {
                            td { a href={"/events/" (event.id)} { code { (event.id) } } }
                            td { (event.event_type) }
                            td { (format::time(event.received_at.as_ref())) }
                        }
                    }
                }
            }
            p { a href="/events" { "All events" } }
        },
    ))
}
