//! The room's chat: messages in order, kept, and sent to everyone in the room (never to
//! someone still waiting). The host may delete one for everyone.

use std::collections::HashMap;
use std::time::Instant;

use super::super::protocol::{ErrorCode, ServerMessage};
use super::Room;
use super::writes::Write;
use crate::meetings::chat::{self, ChatMessage};

/// Messages one person may send: this many at once, then one every [`CHAT_REFILL_SECS`].
pub const CHAT_BURST: f64 = 5.0;
pub const CHAT_REFILL_SECS: f64 = 2.0;

/// The room's chat: its history (the whole of it, at most `MAX_MESSAGES_PER_MEETING`), the
/// next number, and each person's allowance.
#[derive(Default)]
pub struct ChatState {
    pub history: Vec<ChatMessage>,
    next_seq: i64,
    allowance: HashMap<String, (f64, Instant)>,
}

impl ChatState {
    pub fn new(history: Vec<ChatMessage>) -> Self {
        let next_seq = history.last().map_or(1, |m| m.seq + 1);
        Self {
            history,
            next_seq,
            allowance: HashMap::new(),
        }
    }

    /// Takes one message from this person's allowance.
    fn allow(&mut self, user: &str, now: Instant) -> bool {
        let (tokens, last) = self
            .allowance
            .entry(user.to_owned())
            .or_insert((CHAT_BURST, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() / CHAT_REFILL_SECS).min(CHAT_BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Room {
    pub(super) fn chat(&mut self, from: &str, text: &str) {
        let Some(author) = self.peers.get(from).map(|p| p.info.clone()) else {
            return;
        };
        let text = match chat::clean(text) {
            Ok(text) => text,
            Err(refusal) => {
                let code = match refusal {
                    chat::Refusal::Empty => ErrorCode::BadMessage,
                    chat::Refusal::TooLong => ErrorCode::TooLarge,
                };
                self.error(from, code, &refusal.message());
                return;
            }
        };
        if self.chat.history.len() >= chat::MAX_MESSAGES_PER_MEETING {
            self.error(
                from,
                ErrorCode::ChatFull,
                &format!(
                    "This meeting's chat is full ({} messages).",
                    chat::MAX_MESSAGES_PER_MEETING
                ),
            );
            return;
        }
        if !self.chat.allow(&author.user_id, Instant::now()) {
            self.error(
                from,
                ErrorCode::RateLimited,
                "You are sending messages too fast. Wait a moment, then send it again.",
            );
            return;
        }
        let message = ChatMessage {
            seq: self.chat.next_seq,
            user_id: Some(author.user_id),
            name: author.name,
            text,
            at: crate::time::now(),
            deleted: false,
        };
        self.chat.next_seq += 1;
        self.chat.history.push(message.clone());
        let _ = self.writes.send(Write::Chat(message.clone()));
        self.broadcast(None, &ServerMessage::Chat { message });
    }

    pub(super) fn chat_delete(&mut self, from: &str, seq: i64) {
        if !self.is_host(from) {
            return;
        }
        match self
            .chat
            .history
            .iter_mut()
            .find(|m| m.seq == seq && !m.deleted)
        {
            Some(m) => {
                m.deleted = true;
                m.text.clear();
            }
            None => {
                self.error(from, ErrorCode::BadMessage, "There is no such message.");
                return;
            }
        }
        let _ = self.writes.send(Write::ChatDelete(seq));
        self.broadcast(None, &ServerMessage::ChatDeleted { seq });
    }
}
