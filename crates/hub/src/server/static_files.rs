//! Placeholder pages at `/` and `/join` until the web console and join page arrive: they say
//! so, and show only true facts about this room (its name, code and join URL).

use axum::extract::State;
use axum::response::Html;

use super::AppState;

pub async fn index(State(state): State<AppState>) -> Html<String> {
    page(
        &state,
        "Sync Hub",
        "The facilitator console is coming in a later version. The hub is running; phones and the simulator can join now.",
    )
}

pub async fn join(State(state): State<AppState>) -> Html<String> {
    page(
        &state,
        "Join this room",
        "The browser join page is coming in a later version. Use the Sync app, or any Socket.IO client, with the room code below.",
    )
}

fn page(state: &AppState, title: &str, note: &str) -> Html<String> {
    let room = state.room();
    let code = room.code.as_deref().unwrap_or("none needed");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto\">\n\
         <h1>{title}</h1>\n<p>{note}</p>\n<dl>\n<dt>Room</dt><dd>{name}</dd>\n\
         <dt>Room code</dt><dd>{code}</dd>\n<dt>Join URL</dt><dd>{url}</dd>\n</dl>\n</body></html>\n",
        title = escape(title),
        note = escape(note),
        name = escape(&room.name),
        code = escape(code),
        url = escape(&state.join_url()),
    ))
}

/// HTML text escaping for values a facilitator typed (the room name).
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn room_names_are_escaped() {
        assert_eq!(
            super::escape("<b>Tom & Jerry's</b>"),
            "&lt;b&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;"
        );
    }
}
