//! The page shell: navigation, the signed-in workspace, sign-out.

use maud::{DOCTYPE, Markup, html};

use crate::session::Session;

/// A page for a signed-in session.
pub fn page(session: &Session, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Switchyard" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "Switchyard" }
                    nav {
                        a href="/" { "Overview" }
                        a href="/events" { "Events" }
                        a href="/connections" { "Connections" }
                        a href="/dead-letters" { "Dead letters" }
                        a href="/schemas" { "Schemas" }
                        a href="/rules" { "Rules" }
                    }
                    div.who {
                        span #workspace { (session.workspace_slug) }
                        " · "
                        span #actor { (session.actor) }
                        " · "
                        span #scope { @if session.admin { "admin" } @else { "read only" } }
                        form method="post" action="/signout" {
                            (csrf_field(session))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without a session (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · Switchyard" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body { main.narrow { (body) } }
        }
    }
}

/// The hidden field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}
